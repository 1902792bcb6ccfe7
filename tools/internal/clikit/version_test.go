package clikit

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
)

// TestWriteVersion: the module version and VCS settings of the build
// information, "unknown" without them, and Version (set by the linker)
// in place of the module version.
func TestWriteVersion(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}}
	var b bytes.Buffer
	WriteVersion(&b, bi)
	for _, want := range []string{"shoal (devel)\n", "revision  abc123\n", "time      unknown\n", "modified  true\n", "go        go1.99\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("WriteVersion: %q lacks %q", b.String(), want)
		}
	}
	defer func(v string) { Version = v }(Version)
	Version = "v1.2.3-4-gabcdef"
	b.Reset()
	WriteVersion(&b, nil)
	if !strings.HasPrefix(b.String(), "shoal v1.2.3-4-gabcdef\nrevision  unknown\n") {
		t.Errorf("WriteVersion with Version set, no build info: %q", b.String())
	}
}
