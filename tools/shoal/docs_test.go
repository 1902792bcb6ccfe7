package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/tools/internal/clikit"
)

// shoalLine finds a shoal command line in a document or script: what
// follows ./shoal, shoal, $SHOAL or "$shoal".
var shoalLine = regexp.MustCompile(`(?:^|[\s(;])(?:\./shoal|"\$shoal"|\$SHOAL|\$shoal|shoal)\s+([a-z].*)$`)

// placeholder matches the error of a value the document leaves to the
// reader (-server-pid PID) or a script to the shell (-n $n, -threads
// $(nproc)).
var placeholder = regexp.MustCompile(`invalid argument "(?:[A-Z]+|\$[A-Za-z_][A-Za-z0-9_]*|\$\([^)]*\))" for`)

// TestDocumentedCommandsParse: every shoal command line in the README,
// the docs, the benchmark scripts and CI parses with the current flags
// (code blocks of the documents; the scripts whole).
func TestDocumentedCommandsParse(t *testing.T) {
	root := filepath.Join("..", "..")
	files := []string{"README.md", ".ci/run"}
	for _, g := range []string{"docs/*.md", "tools/bench/*.sh"} {
		m, _ := filepath.Glob(filepath.Join(root, g))
		for _, f := range m {
			rel, _ := filepath.Rel(root, f)
			files = append(files, rel)
		}
	}
	verbs := map[string]bool{"help": true, "version": true, "completion": true}
	for _, c := range commands() {
		verbs[c.Name] = true
	}
	checked := 0
	for _, name := range files {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		doc := strings.HasSuffix(name, ".md")
		inCode := !doc
		text := strings.ReplaceAll(string(b), "\\\n", " ")
		for n, line := range strings.Split(text, "\n") {
			if doc && strings.HasPrefix(strings.TrimSpace(line), "```") {
				inCode = !inCode
				continue
			}
			if !inCode {
				continue
			}
			if i := strings.Index(line, " #"); i >= 0 {
				line = line[:i] // a comment
			}
			for _, part := range strings.Split(line, ";") {
				m := shoalLine.FindStringSubmatch(part)
				if m == nil {
					continue
				}
				args := shellWords(m[1])
				if len(args) == 0 || !verbs[args[0]] || strings.ContainsAny(m[1], "…") {
					continue
				}
				checked++
				if err := clikit.Parse(commands(), args); err != nil && !placeholder.MatchString(err.Error()) {
					t.Errorf("%s:%d: shoal %s: %v", name, n+1, strings.Join(args, " "), err)
				}
			}
		}
	}
	t.Logf("%d command lines parse", checked)
	if checked < 30 {
		t.Errorf("checked %d command lines, want the documents' (>= 30)", checked)
	}
}

// shellWords splits a command line as a shell would, roughly: words, with
// quotes removed, up to a comment, a pipe, a redirection or an &&.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	in := false
	var quote rune
	flush := func() {
		if in {
			words = append(words, cur.String())
			cur.Reset()
			in = false
		}
	}
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			flush()
		case r == '#' && !in, r == '|', r == '>', r == '&', r == '`', r == ')':
			flush()
			if len(words) > 0 && (words[len(words)-1] == "2" || words[len(words)-1] == "1") && r == '>' {
				words = words[:len(words)-1]
			}
			return words
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	flush()
	return words
}
