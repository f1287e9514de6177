/// Uses `value` where the optimizer cannot see through: for loads done only for their side
/// effect on the cache (`RowKeySet.touch`), which would otherwise be removed as unused.
@inline(never) @_optimize(none)
func keepAlive<T>(_ value: T) {}
