package doccheck

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Patterns of what a document may not do: name a Markdown file, or link
// to a path, that is not in the repository; climb out of it with "../";
// point at outside notes (a reference/ folder, a numbered issue, a numbered
// defect of another project's list).
var (
	urlPattern      = regexp.MustCompile(`[a-z]+://[^\s)>\]"'` + "`" + `]+`)
	mdMention       = regexp.MustCompile(`[A-Za-z0-9_./-]*[A-Za-z0-9_-]\.md\b`)
	mdLink          = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	climbing        = regexp.MustCompile(`(?:^|[^A-Za-z0-9_./-])((?:\.\./)+[A-Za-z0-9_.-][A-Za-z0-9_./-]*)`)
	outsideNotes    = regexp.MustCompile(`\breference/[A-Za-z0-9_.-]+`)
	issueNumber     = regexp.MustCompile(`(?i)\bissues? #?[0-9]+\b`)
	foreignDefectID = regexp.MustCompile(`\bdefect W[0-9]+\b|[(,] ?W[0-9]{1,2}\)`)
)

// knownLeft are findings in files this package may not edit yet, each with
// who fixes it. A known finding that is gone fails the test too, so that
// the list only shrinks.
var knownLeft = map[string]string{}

// The repository's documents and code comments stand on their own: every
// file they name is in the repository, and nothing points outside it.
func TestDocsPointInsideTheRepository(t *testing.T) {
	root, err := filepath.Abs("../../..")
	require.NoError(t, err)
	files, err := docFiles(root)
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var found []string
	for _, rel := range files {
		text, err := os.ReadFile(filepath.Join(root, rel))
		require.NoError(t, err)
		found = append(found, outsidePointers(root, rel, string(text))...)
	}
	for _, f := range found {
		if _, ok := knownLeft[f]; !ok {
			t.Error(f)
		}
	}
	for f, who := range knownLeft {
		assert.Contains(t, found, f, "fixed (by %s): remove it from knownLeft", who)
	}
}

// docFiles returns the repository's text files that people read, relative
// to root: Go, Markdown, YAML and JSON files, and the scripts.
func docFiles(root string) ([]string, error) {
	var files []string
	self, err := filepath.Abs("links_test.go") // its patterns are the findings
	if err != nil {
		return nil, err
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		dir := filepath.Dir(rel)
		ext := filepath.Ext(path)
		if path != self && (slices.Contains([]string{".go", ".md", ".yaml", ".yml", ".json"}, ext) || dir == "scripts" || dir == ".ci") {
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	return files, err
}

// outsidePointers returns a line per pointer outside the repository in
// text, the content of the file rel under root.
func outsidePointers(root, rel, text string) []string {
	var found []string
	report := func(what, why string) {
		found = append(found, fmt.Sprintf("%s: %q %s", rel, what, why))
	}
	dir := filepath.Join(root, filepath.Dir(rel))
	exists := func(p string) bool {
		for _, base := range []string{dir, root} {
			abs := filepath.Join(base, p)
			if _, err := os.Stat(abs); err == nil && inside(root, abs) {
				return true
			}
		}
		return false
	}
	text = urlPattern.ReplaceAllString(text, " ")
	for _, m := range mdMention.FindAllString(text, -1) {
		if !exists(m) {
			report(m, "is not a file of the repository")
		}
	}
	if strings.HasSuffix(rel, ".md") {
		for _, m := range mdLink.FindAllStringSubmatch(prose(text), -1) {
			target, _, _ := strings.Cut(m[1], "#")
			if target != "" && !exists(target) {
				report(m[1], "links to no file of the repository")
			}
		}
	}
	for _, m := range climbing.FindAllStringSubmatch(text, -1) {
		if !inside(root, filepath.Join(dir, m[1])) {
			report(m[1], "leaves the repository")
		}
	}
	for _, m := range outsideNotes.FindAllString(text, -1) {
		if !exists(m) {
			report(m, "points at notes outside the repository")
		}
	}
	for _, m := range issueNumber.FindAllString(text, -1) {
		report(m, "points at an issue tracker outside the repository: say what it asked for")
	}
	for line := range strings.Lines(text) {
		if foreignDefectID.MatchString(line) {
			report(strings.Trim(line, "/ \t\n"), "names a numbered defect of a list outside the repository: say what the defect was")
		}
	}
	return found
}

// inside reports whether abs is root or under it.
func inside(root, abs string) bool {
	rel, err := filepath.Rel(root, abs)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// prose returns the Markdown text without its fenced code blocks, whose
// "](" is code, not a link.
func prose(md string) string {
	var b strings.Builder
	fenced := false
	for line := range strings.Lines(md) {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			b.WriteString(line)
		}
	}
	return b.String()
}
