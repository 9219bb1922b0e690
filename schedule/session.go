package schedule

// SessionState is the state of a session as seen by its client.
type SessionState int

// Session states.
const (
	// SessionConnected: connected, and the server answered recently: a
	// request on the session sent within the last third of the session
	// timeout was answered, or the server accepted a reconnection under
	// the same session. Owners take it as proof that the session is alive:
	// after a suspicion, they resume on it without a read of their own.
	SessionConnected SessionState = iota + 1
	// SessionSuspect: disconnected, or no answer from the server for a while.
	// The session may still be alive at the server (a short blip keeps it) or
	// may have expired; a careful owner stops acting on its grants until it is
	// Connected again. A storekit.Store must report Suspect within a third of the
	// session timeout after the last request the server answered was sent:
	// the managers' fencing and lock delay are computed from that bound.
	SessionSuspect
	// SessionExpired: the server expired the session; its ephemerals are gone.
	SessionExpired
	// SessionClosed: the client closed the session.
	SessionClosed
)

// String returns the state's name.
func (s SessionState) String() string {
	switch s {
	case SessionConnected:
		return "connected"
	case SessionSuspect:
		return "suspect"
	case SessionExpired:
		return "expired"
	case SessionClosed:
		return "closed"
	}
	return "unknown"
}
