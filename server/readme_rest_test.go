package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestREADMERESTExample runs the curl example of README.md ("REST and
// Python") against a server with net/http: each curl command becomes a
// request, and a comment line "# {...}" after a command is the JSON its
// reply must contain (every field it names, numbers within 1e-6; the
// reply may have more). So the README's example cannot drift from what
// the server does.
func TestREADMERESTExample(t *testing.T) {
	block := readmeBlock(t, "../README.md", "## REST and Python", "sh")
	ts := start(t, "", nil)
	vars := map[string]string{"SHOAL_ADMIN_KEY": adminKey}
	hc := &http.Client{Timeout: 20 * time.Second}
	defer hc.CloseIdleConnections()

	var last []byte // the last reply's body
	ran := 0
	for _, line := range joinContinued(strings.Split(block, "\n")) {
		line = strings.TrimSpace(line)
		if want, ok := strings.CutPrefix(line, "# "); ok {
			if strings.HasPrefix(want, "{") {
				if last == nil {
					t.Fatalf("README: expected output %s before any curl command", want)
				}
				var w, g any
				if err := json.Unmarshal([]byte(want), &w); err != nil {
					t.Fatalf("README: expected output %s is not JSON: %v", want, err)
				}
				if err := json.Unmarshal(last, &g); err != nil {
					t.Fatalf("reply %s is not JSON: %v", last, err)
				}
				if err := jsonContains(g, w, "$"); err != nil {
					t.Fatalf("README says the reply is %s; the server answered %s: %v", want, last, err)
				}
			}
			continue
		}
		if line == "" {
			continue
		}
		for _, cmd := range shellWords(t, line, vars) {
			if len(cmd) == 0 {
				continue
			}
			if name, value, ok := strings.Cut(cmd[0], "="); ok && len(cmd) == 1 {
				vars[name] = value
				continue
			}
			if cmd[0] != "curl" {
				t.Fatalf("README REST example: %q is neither an assignment nor a curl command", cmd)
			}
			last = runCurl(t, hc, cmd, ts.addr)
			ran++
		}
	}
	if ran < 3 {
		t.Fatalf("README REST example ran %d curl commands, want at least 3 (create, upsert, search)", ran)
	}
}

// readmeBlock returns the first fenced code block of language lang in
// the section of path that starts with the heading line.
func readmeBlock(t *testing.T, path, heading, lang string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("%s has no section %q", path, heading)
	}
	if end := strings.Index(sec, "\n## "); end >= 0 {
		sec = sec[:end]
	}
	_, code, ok := strings.Cut(sec, "```"+lang+"\n")
	if !ok {
		t.Fatalf("section %q of %s has no %s block", heading, path, lang)
	}
	code, _, ok = strings.Cut(code, "```")
	if !ok {
		t.Fatalf("section %q of %s: unterminated %s block", heading, path, lang)
	}
	return code
}

// joinContinued joins lines that end inside a single-quoted string (a
// JSON body over several lines) or with a backslash to the next.
func joinContinued(lines []string) []string {
	var out []string
	cur := ""
	for _, l := range lines {
		if cur != "" {
			l = cur + "\n" + l
		}
		if strings.Count(l, "'")%2 == 1 {
			cur = l
			continue
		}
		if s, ok := strings.CutSuffix(l, "\\"); ok {
			cur = s
			continue
		}
		cur = ""
		out = append(out, l)
	}
	return append(out, cur)
}

// shellWords splits a line into commands (at ";") of words, as sh would
// for the README's example: single quotes literal, double quotes and bare
// words with $NAME expanded from vars.
func shellWords(t *testing.T, line string, vars map[string]string) [][]string {
	t.Helper()
	var cmds [][]string
	var words []string
	var word strings.Builder
	inWord := false
	expand := func(s string) string {
		return os.Expand(s, func(name string) string {
			v, ok := vars[name]
			if !ok {
				t.Fatalf("README REST example uses $%s, which it does not set", name)
			}
			return v
		})
	}
	flush := func() {
		if inWord {
			words = append(words, word.String())
			word.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(line); i++ {
		switch c := line[i]; c {
		case ' ', '\t', '\n':
			flush()
		case ';':
			flush()
			cmds = append(cmds, words)
			words = nil
		case '\'', '"':
			end := strings.IndexByte(line[i+1:], c)
			if end < 0 {
				t.Fatalf("README REST example: unterminated quote in %q", line)
			}
			s := line[i+1 : i+1+end]
			if c == '"' {
				s = expand(s)
			}
			word.WriteString(s)
			inWord = true
			i += end + 1
		default:
			j := i
			for j < len(line) && !strings.ContainsRune(" \t\n;'\"", rune(line[j])) {
				j++
			}
			word.WriteString(expand(line[i:j]))
			inWord = true
			i = j - 1
		}
	}
	flush()
	return append(cmds, words)
}

// runCurl sends the request of a curl command line (flags -s, -H, -d, -X;
// the URL's host is replaced by addr) and returns the reply's body; a
// reply other than 200 fails the test.
func runCurl(t *testing.T, hc *http.Client, cmd []string, addr string) []byte {
	t.Helper()
	var url, body, method string
	header := http.Header{}
	for i := 1; i < len(cmd); i++ {
		w := cmd[i]
		if !strings.HasPrefix(w, "-") {
			url = w
			continue
		}
		for _, f := range w[1:] {
			switch f {
			case 's':
			case 'H', 'd', 'X':
				i++
				if i == len(cmd) {
					t.Fatalf("curl %q: -%c without a value", cmd, f)
				}
				switch f {
				case 'H':
					k, v, _ := strings.Cut(cmd[i], ":")
					header.Add(k, strings.TrimSpace(v))
				case 'd':
					body = cmd[i]
				case 'X':
					method = cmd[i]
				}
			default:
				t.Fatalf("curl %q: flag -%c not understood by this test", cmd, f)
			}
		}
	}
	_, path, ok := strings.Cut(strings.TrimPrefix(url, "http://"), "/")
	if !ok {
		t.Fatalf("curl %q: URL %q has no path", cmd, url)
	}
	if method == "" {
		method = "GET"
		if body != "" {
			method = "POST" // as curl -d
		}
	}
	req, err := http.NewRequest(method, "http://"+addr+"/"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("curl %q: %v", cmd, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("curl %q: HTTP %d %s", cmd, resp.StatusCode, out)
	}
	return out
}

// jsonContains reports how got lacks something of want: every key of a
// want object must be in got with a matching value, arrays must match
// element by element, numbers within 1e-6.
func jsonContains(got, want any, at string) error {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: got %v, want an object", at, got)
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				return fmt.Errorf("%s: no field %q", at, k)
			}
			if err := jsonContains(gv, wv, at+"."+k); err != nil {
				return err
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("%s: got %v, want %d elements", at, got, len(w))
		}
		for i := range w {
			if err := jsonContains(g[i], w[i], fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case float64:
		g, ok := got.(float64)
		if !ok || math.Abs(g-w) > 1e-6 {
			return fmt.Errorf("%s: got %v, want %v", at, got, w)
		}
	default:
		if got != want {
			return fmt.Errorf("%s: got %v, want %v", at, got, want)
		}
	}
	return nil
}
