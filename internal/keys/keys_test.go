package keys

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestKindsDistinct: no two kinds of one key space share a prefix.
func TestKindsDistinct(t *testing.T) {
	seen := make(map[string]string)
	for _, k := range Kinds {
		id := k.Space + string(k.Prefix)
		if other, ok := seen[id]; ok {
			t.Errorf("prefix %q of %s space is taken by %q and %q", k.Prefix, k.Space, other, k.Name)
		}
		seen[id] = k.Name
	}
}

// TestFormatDocNamesEveryKind: docs/format.md documents every kind under
// its name and prefix.
func TestFormatDocNamesEveryKind(t *testing.T) {
	b, err := os.ReadFile("../../docs/format.md")
	if err != nil {
		t.Fatalf("docs/format.md: %v", err)
	}
	doc := string(b)
	for _, k := range Kinds {
		// As the registry table writes each key space's keys.
		want := map[string]string{"record": "`NS 'u' '%c'", "store": "`NS '%c'", "shared": "`'%c'"}[k.Space]
		if !strings.Contains(doc, fmt.Sprintf(want, k.Prefix)) {
			t.Errorf("docs/format.md has no registry row %q… for %s (%s space)", fmt.Sprintf(want, k.Prefix), k.Name, k.Space)
		}
	}
}

func TestKeyBuilders(t *testing.T) {
	if got := ID(Vector, 0x0102030405060708); string(got) != "v\x01\x02\x03\x04\x05\x06\x07\x08" {
		t.Errorf("ID = %q", got)
	}
	if got := U32U64(Append, 1, 2); len(got) != 13 || got[0] != 'a' || got[4] != 1 || got[12] != 2 {
		t.Errorf("U32U64 = %q", got)
	}
	if got := U32U32(Shortlist, 1, 2); len(got) != 9 || got[4] != 1 || got[8] != 2 {
		t.Errorf("U32U32 = %q", got)
	}
}
