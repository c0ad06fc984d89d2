package bqemu

import "sync"

// maxShared bounds a shared set; past it, values are kept as they come.
const maxShared = 4096

// shared hands out one value per key to the records that would each hold an equal copy
// (the jobs kept, all of a long run's). Its values are never changed.
type shared[V any] struct {
	mu    sync.Mutex
	byKey map[string]V
}

func newShared[V any]() *shared[V] { return &shared[V]{byKey: map[string]V{}} }

// get is the value kept for key.
func (s *shared[V]) get(key string) (V, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.byKey[key]
	return v, ok
}

// share returns the value kept for key; where there is none it keeps v, while there is
// room, and returns v.
func (s *shared[V]) share(key string, v V) V {
	s.mu.Lock()
	defer s.mu.Unlock()
	if kept, ok := s.byKey[key]; ok {
		return kept
	}
	if len(s.byKey) < maxShared {
		s.byKey[key] = v
	}
	return v
}
