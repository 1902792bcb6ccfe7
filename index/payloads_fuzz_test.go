package index

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzPayload: normalizePayload accepts exactly the JSON objects of
// valid UTF-8 within the limit, returns them compact (compacting again
// changes nothing), and its records decode back; decodePayload of any
// bytes gives a payload or an error wrapping ErrCorrupt; derivedNames
// never panics and gives valid label names. None of them panic.
func FuzzPayload(f *testing.F) {
	for _, s := range []string{`{}`, ` {"a" : [1, 2.50, true, null, "x"], "b": {"c": -0}} `, `[1]`, `"s"`, `{"a":`, "{\"a\":\"\xff\"}", ``, `{"n":1e400}`, `{"a":1,"a":2}`, `{"o":[{"k":1},{"k":{"k":"k"}}]}`} {
		f.Add([]byte(s))
	}
	fields := []string{"a", "b", "n"}
	f.Fuzz(func(t *testing.T, p []byte) {
		c, err := normalizePayload(p, 1<<10)
		if err != nil {
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("normalizePayload(%q): error %v is not ErrBadInput", p, err)
			}
		} else {
			if !json.Valid(c) || c[0] != '{' || len(c) > 1<<10 {
				t.Fatalf("normalizePayload(%q) = %q: not a compact JSON object within the limit", p, c)
			}
			var again bytes.Buffer
			if err := json.Compact(&again, c); err != nil || !bytes.Equal(again.Bytes(), c) {
				t.Fatalf("normalizePayload(%q) = %q is not compact", p, c)
			}
			back, err := decodePayload(encodePayload(c))
			if err != nil || !bytes.Equal(back, c) {
				t.Fatalf("record of %q decodes to %q, %v", c, back, err)
			}
			for _, n := range derivedNames(c, fields) {
				if checkLabelName(n) != nil {
					t.Fatalf("derivedNames(%q) gave %q, not a label name", c, n)
				}
			}
		}
		if _, err := decodePayload(p); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("decodePayload(%q): error %v does not wrap ErrCorrupt", p, err)
		}
		_ = derivedNames(p, fields)
	})
}
