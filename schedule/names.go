package schedule

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultOwnSign is the ownSign of the default environment. Its runtime is
// named after the base task type alone ("orders", not "orders$BASE").
const DefaultOwnSign = "BASE"

// RuntimeSeparator separates the base task type from the ownSign in a runtime
// name ("orders$TEST"), and the parts of server and factory ids.
const RuntimeSeparator = "$"

// Length limits of names, in bytes.
const (
	// MaxNameLen bounds task type, ownSign, strategy, bean names and item ids.
	MaxNameLen = 128
	// MaxHostLen bounds IP addresses and host names (DNS allows 253).
	MaxHostLen = 255
	// MaxIDLen bounds server and factory ids, which are made of several names.
	MaxIDLen = 1024
)

// NameKind says what a name names. It selects the rules ValidateName applies
// and names the kind in its errors.
type NameKind string

// Name kinds. Every kind forbids the empty name, "." and "..", invalid UTF-8,
// control characters, white space, '/', and the code points ZooKeeper refuses
// in node names (private use U+E000..U+F8FF, U+FFF0..U+FFFF, and everything
// above U+FFFF, which Java encodes as surrogates); '$' is allowed only where
// the kind says so.
const (
	// NameBaseTaskType: a task type's name (TaskType.BaseTaskType). No '$'.
	NameBaseTaskType NameKind = "baseTaskType"
	// NameOwnSign: an environment tag such as "BASE" or "TEST". No '$'.
	NameOwnSign NameKind = "ownSign"
	// NameTaskType: a runtime name, "base" or "base$ownSign" (one '$').
	NameTaskType NameKind = "taskType"
	// NameStrategy: a strategy's name. No '$'.
	NameStrategy NameKind = "strategyName"
	// NameItemID: a task item id. No '$', ':', '{', '}' or ','.
	NameItemID NameKind = "taskItem"
	// NameHost: an IP address (v4 or v6) or a host name. No '$'. At most
	// MaxHostLen bytes.
	NameHost NameKind = "host"
	// NameBean: the name of a registered deal or Bean task. No '$'.
	NameBean NameKind = "beanName"
	// NameServerID: a server id, "<taskType>$<ip>$<uuid>$<seq>": four or five
	// '$'-separated non-empty parts (five when the runtime has an ownSign).
	// At most MaxIDLen bytes.
	NameServerID NameKind = "serverId"
	// NameFactoryID: a factory id, "<ip>$<hostName>$<uuid>$<seq>": four
	// '$'-separated non-empty parts. At most MaxIDLen bytes.
	NameFactoryID NameKind = "factoryId"
)

// ValidateName checks name against the rules of kind. The error wraps
// ErrInvalid and names the kind, the name, and the offending character with
// its position (counted in characters from 0), for example
// `schedule: baseTaskType "a/b": '/' at position 1 is not allowed`.
func ValidateName(kind NameKind, name string) error {
	if p := nameProblem(kind, name); p != "" {
		return &FieldError{Field: string(kind), Problem: fmt.Sprintf("%q: %s", name, p)}
	}
	return nil
}

// RuntimeName returns the name of the runtime of base for ownSign: base
// itself for DefaultOwnSign or an empty ownSign, else "base$ownSign".
// It does not validate; see SplitRuntimeName and ValidateName.
func RuntimeName(base, ownSign string) string {
	if ownSign == "" || ownSign == DefaultOwnSign {
		return base
	}
	return base + RuntimeSeparator + ownSign
}

// SplitRuntimeName splits a runtime name ("base" or "base$ownSign", as in a
// strategy's taskName) at its first '$' and validates both parts. A bare base
// has ownSign DefaultOwnSign. "base$BASE" is accepted (TBSchedule accepts it)
// and splits into base and DefaultOwnSign; RuntimeName gives its canonical
// form, the bare base. The error wraps ErrInvalid.
func SplitRuntimeName(name string) (base, ownSign string, err error) {
	if p := nameProblem(NameTaskType, name); p != "" {
		return "", "", &FieldError{Field: string(NameTaskType), Problem: fmt.Sprintf("%q: %s", name, p)}
	}
	base, ownSign, found := strings.Cut(name, RuntimeSeparator)
	if !found {
		ownSign = DefaultOwnSign
	}
	return base, ownSign, nil
}

// nameProblem returns what is wrong with name for kind, or "".
func nameProblem(kind NameKind, name string) string {
	switch kind {
	case NameTaskType:
		base, ownSign, found := strings.Cut(name, RuntimeSeparator)
		if !found {
			return nameChars(name, 0, MaxNameLen, "")
		}
		if p := nameChars(base, 0, MaxNameLen, ""); p != "" {
			return "base task type: " + p
		}
		if p := nameChars(ownSign, utf8.RuneCountInString(base)+1, MaxNameLen, ""); p != "" {
			return "ownSign: " + p
		}
		return ""
	case NameServerID:
		return nameParts(name, 4, 5)
	case NameFactoryID:
		return nameParts(name, 4, 4)
	case NameHost:
		return nameChars(name, 0, MaxHostLen, "")
	case NameItemID:
		return nameChars(name, 0, MaxNameLen, ":{},")
	case NameBaseTaskType, NameOwnSign, NameStrategy, NameBean:
		return nameChars(name, 0, MaxNameLen, "")
	}
	return fmt.Sprintf("unknown name kind %q", string(kind))
}

// nameParts checks a '$'-separated id of min..max non-empty parts.
func nameParts(name string, minParts, maxParts int) string {
	if len(name) > MaxIDLen {
		return fmt.Sprintf("longer than %d bytes (%d)", MaxIDLen, len(name))
	}
	if name == "" {
		return "must not be empty"
	}
	parts := strings.Split(name, RuntimeSeparator)
	if len(parts) < minParts || len(parts) > maxParts {
		if minParts == maxParts {
			return fmt.Sprintf("has %d '$'-separated parts, want %d", len(parts), minParts)
		}
		return fmt.Sprintf("has %d '$'-separated parts, want %d to %d", len(parts), minParts, maxParts)
	}
	pos := 0
	for i, part := range parts {
		if p := nameChars(part, pos, MaxIDLen, ""); p != "" {
			return fmt.Sprintf("part %d: %s", i+1, p)
		}
		pos += utf8.RuneCountInString(part) + 1
	}
	return ""
}

// nameChars checks one simple name: not empty, not "." or "..", at most
// maxLen bytes, valid UTF-8, and none of the characters forbidden everywhere
// or in extra. Positions in the message are offset by pos characters.
func nameChars(name string, pos, maxLen int, extra string) string {
	switch {
	case name == "":
		return "must not be empty"
	case name == "." || name == "..":
		return "must not be \".\" or \"..\""
	case len(name) > maxLen:
		return fmt.Sprintf("longer than %d bytes (%d)", maxLen, len(name))
	}
	i := pos
	for off, r := range name {
		switch {
		case r == utf8.RuneError && isInvalidAt(name, off):
			return fmt.Sprintf("invalid UTF-8 at position %d", i)
		case r == '/' || r == '$' || strings.ContainsRune(extra, r):
			return fmt.Sprintf("%q at position %d is not allowed", r, i)
		case unicode.IsControl(r):
			return fmt.Sprintf("control character %q at position %d is not allowed", r, i)
		case unicode.IsSpace(r):
			return fmt.Sprintf("white space %q at position %d is not allowed", r, i)
		case (r >= 0xE000 && r <= 0xF8FF) || r >= 0xFFF0:
			return fmt.Sprintf("character %U at position %d is not allowed (ZooKeeper refuses it)", r, i)
		}
		i++
	}
	return ""
}

// isInvalidAt reports whether the rune at byte offset off of s is an invalid
// encoding (as opposed to a literal U+FFFD).
func isInvalidAt(s string, off int) bool {
	r, size := utf8.DecodeRuneInString(s[off:])
	return r == utf8.RuneError && size <= 1
}
