package podrecord

// Seen remembers the last N keys (audit IDs of emitted records) so that a
// re-delivered event does not produce a second record. It is not safe for
// concurrent use.
type Seen struct {
	set  map[string]struct{}
	ring []string
	next int
}

// NewSeen remembers up to n keys; the oldest is forgotten first.
func NewSeen(n int) *Seen {
	if n < 1 {
		n = 1
	}
	return &Seen{set: make(map[string]struct{}, n), ring: make([]string, n)}
}

// Add records key and reports whether it was new.
func (s *Seen) Add(key string) bool {
	if _, ok := s.set[key]; ok {
		return false
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.set, old)
	}
	s.ring[s.next] = key
	s.next = (s.next + 1) % len(s.ring)
	s.set[key] = struct{}{}
	return true
}

// Len is the number of keys remembered.
func (s *Seen) Len() int { return len(s.set) }
