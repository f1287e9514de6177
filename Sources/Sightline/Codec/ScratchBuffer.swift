/// A reusable, growable, uninitialized buffer of trivial values: the caller-provided storage
/// that decoders write into, so steady-state decoding allocates nothing.
///
/// Not thread-safe. Contents past what the last writer wrote are unspecified.
package final class ScratchBuffer<Element: BitwiseCopyable> {
    @usableFromInline internal private(set) var base: UnsafeMutablePointer<Element>
    /// Number of elements the buffer can hold without growing.
    package private(set) var capacity: Int
    /// Number of valid elements, set by the decoder that filled it.
    package internal(set) var count: Int = 0

    /// A buffer with room for `capacity` elements.
    package init(capacity: Int = 0) {
        self.capacity = Swift.max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// Makes room for `n` elements (plus 16 of slack for word-wide loads), dropping contents.
    @inlinable
    internal func reserve(_ n: Int) {
        if n + 16 > capacity { grow(n + 16) }
    }

    @usableFromInline
    internal func grow(_ n: Int) {
        base.deallocate()
        capacity = Swift.max(n, capacity * 2)
        base = .allocate(capacity: capacity)
    }

    /// The valid elements. Valid until the buffer is next written.
    @inlinable
    package var buffer: UnsafeBufferPointer<Element> { UnsafeBufferPointer(start: base, count: count) }

    /// Element `i` of the valid elements (bounds-checked in debug builds).
    @inlinable
    package subscript(i: Int) -> Element {
        assert(i >= 0 && i < count)
        return base[i]
    }
}
