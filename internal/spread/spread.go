// Package spread is the hash that orders servers and factories when a
// remainder is handed out (plan.Assign, plan.Distribute), so that it
// does not always land on the same ones (such as the leader).
package spread

// Key hashes seed and id with FNV-1a and a splitmix64 finalizer, so ids
// differing only in their last characters (sequence numbers) spread well.
// It is stable across processes and releases: every server computes the
// same order.
func Key(seed, id string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	x := uint64(offset)
	for i := 0; i < len(seed); i++ {
		x = (x ^ uint64(seed[i])) * prime
	}
	x *= prime // a zero byte separates seed and id
	for i := 0; i < len(id); i++ {
		x = (x ^ uint64(id[i])) * prime
	}
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
