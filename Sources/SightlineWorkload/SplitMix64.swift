/// A small, fast, seedable generator (SplitMix64, Steele et al. 2014): the same seed gives
/// the same sequence on every platform, which makes generated workloads reproducible.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator seeded with `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits. Arithmetic wraps by design.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform double in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// A normal variate (Box–Muller).
    public mutating func normal(mean: Double = 0, deviation: Double = 1) -> Double {
        let u = max(unit(), 0x1p-53), v = unit()
        return mean + deviation * (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
}

/// Samples 1...n with P(k) ∝ k^(-exponent), by binary search in a precomputed CDF.
public struct ZipfDistribution: Sendable {
    private let cdf: [Double]
    /// The exponent.
    public let exponent: Double

    /// A Zipf distribution over 1...n.
    public init(n: Int, exponent: Double) {
        precondition(n >= 1)
        self.exponent = exponent
        var cdf = [Double]()
        cdf.reserveCapacity(n)
        var sum = 0.0
        for k in 1...n {
            sum += pow(Double(k), -exponent)
            cdf.append(sum)
        }
        self.cdf = cdf.map { $0 / sum }
    }

    /// A sample in 1...n.
    public func sample<G: RandomNumberGenerator>(_ g: inout G) -> Int {
        let u = Double(g.next() >> 11) * 0x1p-53
        var lo = 0, hi = cdf.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cdf[mid] < u { lo = mid + 1 } else { hi = mid }
        }
        return lo + 1
    }

    /// The mean of the distribution.
    public var mean: Double {
        var m = 0.0, previous = 0.0
        for (i, c) in cdf.enumerated() { m += Double(i + 1) * (c - previous); previous = c }
        return m
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
