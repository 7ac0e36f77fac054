package concurrency

// Waiters lets the tests wait until a goroutine is blocked in Lock.
func (m *Mutex) Waiters() int32 { return m.waiters.Load() }
