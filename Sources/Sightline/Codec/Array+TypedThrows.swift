// `Array.withUnsafe…` are `rethrows`, which widens a typed throw to `any Error`. These keep
// `SightlineError` typed through buffer access.
extension Array {
    @inline(__always) @discardableResult
    func withUnsafeBytesTyped<R>(_ body: (UnsafeRawBufferPointer) throws(SightlineError) -> R) throws(SightlineError) -> R {
        let result: Result<R, SightlineError> = withUnsafeBytes { raw in Result { () throws(SightlineError) -> R in try body(raw) } }
        return try result.get()
    }

    @inline(__always) @discardableResult
    func withUnsafeBufferPointerTyped<R>(_ body: (UnsafeBufferPointer<Element>) throws(SightlineError) -> R) throws(SightlineError) -> R {
        let result: Result<R, SightlineError> = withUnsafeBufferPointer { b in Result { () throws(SightlineError) -> R in try body(b) } }
        return try result.get()
    }

    @inline(__always) @discardableResult
    mutating func withUnsafeMutableBytesTyped<R>(_ body: (UnsafeMutableRawBufferPointer) throws(SightlineError) -> R) throws(SightlineError) -> R {
        let result: Result<R, SightlineError> = withUnsafeMutableBytes { raw in Result { () throws(SightlineError) -> R in try body(raw) } }
        return try result.get()
    }
}
