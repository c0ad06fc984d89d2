package sourcesim

import (
	"hash/fnv"
	"math/rand/v2"
)

// rngFor returns a generator seeded by the simulator seed and a key naming what it draws
// ("box/0022400001"). Every random choice in the model comes from a keyed generator, so the
// result for one game never depends on which other games were generated first.
func rngFor(seed int64, key string) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), hashKey(key)))
}

// hashKey is FNV-1a followed by the splitmix64 finalizer, so that similar keys give
// unrelated values.
func hashKey(key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	z := h.Sum64() + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// binomial draws from Binomial(n, p) by counting n Bernoulli trials (n stays small here).
func binomial(r *rand.Rand, n int, p float64) int {
	if p <= 0 {
		return 0
	}
	k := 0
	for range n {
		if r.Float64() < p {
			k++
		}
	}
	return k
}

// between returns a uniform float in [lo, hi).
func between(r *rand.Rand, lo, hi float64) float64 {
	return lo + (hi-lo)*r.Float64()
}
