package schedule

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ItemDef is one task item definition, parsed from TaskType.TaskItems:
// "0" is ItemDef{ID: "0"}, "0:{TYPE=A,KIND=1}" is
// ItemDef{ID: "0", Parameter: "TYPE=A,KIND=1"}.
type ItemDef struct {
	// ID is the item's id, a valid NameItemID.
	ID ItemID
	// Parameter is the text between the braces, verbatim; "" when none.
	// It never contains '{', '}' or control characters.
	Parameter string
}

// String formats the definition the way ParseItemDefs reads it: the bare id
// when Parameter is empty, else "id:{parameter}".
func (d ItemDef) String() string {
	if d.Parameter == "" {
		return string(d.ID)
	}
	return string(d.ID) + ":{" + d.Parameter + "}"
}

// FormatItemDefs formats each definition with ItemDef.String.
func FormatItemDefs(defs []ItemDef) []string {
	out := make([]string, len(defs))
	for i, d := range defs {
		out[i] = d.String()
	}
	return out
}

// ParseItemDefs parses task item definitions, each "id" or
// "id:{parameter}". White space around the whole definition, around ':' and
// before '{' is ignored (TBSchedule's `\s*:\s*\{`); the parameter is the text
// inside the braces with the white space at its ends trimmed (as TBSchedule
// trims it: " 2 : { b = 3 } " is item "2" with parameter "b = 3"), and may
// hold commas but no braces or control characters. Ids must be valid NameItemID names and unique.
//
// Every problem is reported, joined with errors.Join; each wraps ErrInvalid
// and names the index and the text, as in
// `schedule: taskItems[2] "3:{A": missing '}' after the parameter`.
// On error the result is nil.
func ParseItemDefs(defs []string) ([]ItemDef, error) {
	out, problems := parseItemDefs(defs)
	if err := joinProblems("", problems); err != nil {
		return nil, err
	}
	return out, nil
}

// parseItemDefs parses defs and returns every problem (Subject unset).
func parseItemDefs(defs []string) ([]ItemDef, []*FieldError) {
	var problems []*FieldError
	out := make([]ItemDef, 0, len(defs))
	first := make(map[ItemID]int, len(defs))
	for i, s := range defs {
		d, p := parseItemDef(s)
		if p != "" {
			problems = append(problems, &FieldError{Field: itemField(i), Problem: fmt.Sprintf("%q: %s", s, p)})
			continue
		}
		if j, dup := first[d.ID]; dup {
			problems = append(problems, &FieldError{Field: itemField(i),
				Problem: fmt.Sprintf("%q: duplicate item id %q (first at taskItems[%d])", s, d.ID, j)})
			continue
		}
		first[d.ID] = i
		out = append(out, d)
	}
	return out, problems
}

func itemField(i int) string { return fmt.Sprintf("taskItems[%d]", i) }

// parseItemDef parses one definition; it returns a problem text on failure.
func parseItemDef(s string) (ItemDef, string) {
	if !utf8.ValidString(s) {
		return ItemDef{}, "invalid UTF-8"
	}
	t := strings.TrimFunc(s, unicode.IsSpace)
	if t == "" {
		return ItemDef{}, "empty item definition"
	}
	end := strings.IndexFunc(t, func(r rune) bool { return r == ':' || r == '{' || unicode.IsSpace(r) })
	if end < 0 {
		end = len(t)
	}
	id := t[:end]
	if id == "" {
		return ItemDef{}, "missing item id before " + quoteFirst(t)
	}
	if p := nameProblem(NameItemID, id); p != "" {
		return ItemDef{}, "item id " + p
	}
	rest := strings.TrimLeftFunc(t[end:], unicode.IsSpace)
	if rest == "" {
		return ItemDef{ID: ItemID(id)}, ""
	}
	if rest[0] != ':' {
		if rest[0] == '{' {
			return ItemDef{}, "missing ':' between the item id and '{'"
		}
		return ItemDef{}, fmt.Sprintf("unexpected text %q after the item id (want \":{parameter}\" or nothing)", rest)
	}
	rest = strings.TrimLeftFunc(rest[1:], unicode.IsSpace)
	if rest == "" || rest[0] != '{' {
		return ItemDef{}, "':' must be followed by '{parameter}'"
	}
	rest = rest[1:]
	closing := strings.IndexAny(rest, "{}")
	switch {
	case closing < 0:
		return ItemDef{}, "missing '}' after the parameter"
	case rest[closing] == '{':
		return ItemDef{}, "'{' inside the parameter is not allowed (braces do not nest)"
	}
	param := strings.TrimFunc(rest[:closing], unicode.IsSpace)
	for i, r := range []rune(param) {
		if unicode.IsControl(r) {
			return ItemDef{}, fmt.Sprintf("control character %q at position %d of the parameter is not allowed", r, i)
		}
	}
	if tail := rest[closing+1:]; tail != "" {
		return ItemDef{}, fmt.Sprintf("unexpected text %q after the closing '}'", tail)
	}
	return ItemDef{ID: ItemID(id), Parameter: param}, ""
}

// quoteFirst quotes the first character of s.
func quoteFirst(s string) string {
	r, _ := utf8.DecodeRuneInString(s)
	return fmt.Sprintf("%q", r)
}

// SplitItemList splits a comma-separated list of item definitions, as an
// operator types it ("0:{TYPE=A,KIND=1}, 1:{TYPE=B}, 2"), into definitions,
// keeping commas inside braces (TBSchedule's splitTaskItem). Each entry is
// trimmed of white space. A blank s gives no entries. Empty entries, a '{'
// without its '}', a '}' without its '{', and nested braces are errors
// (joined, each wrapping ErrInvalid). It does not parse the entries: pass the
// result to ParseItemDefs.
func SplitItemList(s string) ([]string, error) {
	if strings.TrimFunc(s, unicode.IsSpace) == "" {
		return nil, nil
	}
	var (
		out      []string
		problems []*FieldError
		start    int
		open     = -1 // byte offset of the unclosed '{', or -1
	)
	add := func(end int) {
		entry := strings.TrimFunc(s[start:end], unicode.IsSpace)
		if entry == "" {
			problems = append(problems, &FieldError{Field: "item list",
				Problem: fmt.Sprintf("%q: entry %d is empty", s, len(out))})
		}
		out = append(out, entry)
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			if open >= 0 {
				return nil, &FieldError{Field: "item list",
					Problem: fmt.Sprintf("%q: '{' at byte %d inside braces opened at byte %d (braces do not nest)", s, i, open)}
			}
			open = i
		case '}':
			if open < 0 {
				return nil, &FieldError{Field: "item list",
					Problem: fmt.Sprintf("%q: '}' at byte %d without '{'", s, i)}
			}
			open = -1
		case ',':
			if open < 0 {
				add(i)
				start = i + 1
			}
		}
	}
	if open >= 0 {
		return nil, &FieldError{Field: "item list",
			Problem: fmt.Sprintf("%q: '{' at byte %d is never closed", s, open)}
	}
	add(len(s))
	if err := joinProblems("", problems); err != nil {
		return nil, err
	}
	return out, nil
}

// ItemDefs parses the task type's TaskItems with ParseItemDefs.
func (t TaskType) ItemDefs() ([]ItemDef, error) {
	return ParseItemDefs(t.TaskItems)
}
