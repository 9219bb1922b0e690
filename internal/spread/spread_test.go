package spread

import "testing"

// The order must be the same in every process and release: pinned values.
func TestKeyStable(t *testing.T) {
	for _, c := range []struct {
		seed, id string
		want     uint64
	}{
		{"", "", 0x25fc6dd36ce04b20},
		{"orders", "s$0000000001", 0x15dfbf497ec69cb2},
		{"orders", "s$0000000002", 0x3d849c88b8e600e},
	} {
		if got := Key(c.seed, c.id); got != c.want {
			t.Errorf("Key(%q, %q) = %#x, want %#x", c.seed, c.id, got, c.want)
		}
	}
	if Key("ab", "c") == Key("a", "bc") {
		t.Error("the seed/id boundary does not count")
	}
}
