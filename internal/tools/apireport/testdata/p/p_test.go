package p

// TestOnly is in a test file: not part of the API.
func TestOnly() {}
