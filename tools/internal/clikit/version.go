package clikit

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Version, when not empty, names this build in place of the module
// version (which is "(devel)" for a build from a checkout). Builds
// without VCS information set it with the linker, e.g.
// deploy/build-static.sh: -ldflags "-X <this package>.Version=v1.2.3".
var Version string

// versionCommand is `shoal version`.
func versionCommand(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "print the version, VCS revision and Go version of this binary",
		Args:    cobra.NoArgs,
		GroupID: groupOther,
		RunE: func(*cobra.Command, []string) error {
			bi, _ := debug.ReadBuildInfo()
			WriteVersion(env.Stdout, bi)
			return nil
		},
	}
}

// WriteVersion writes what bi (nil when the binary has no build
// information) says of the build: the module version, the VCS revision,
// its time and whether the tree was modified, then the Go version and
// the platform. A binary built with -buildvcs=false (or from outside a
// repository) has no VCS settings: those lines say "unknown".
func WriteVersion(w io.Writer, bi *debug.BuildInfo) {
	version, goVersion := "unknown", runtime.Version()
	vcs := map[string]string{"vcs.revision": "unknown", "vcs.time": "unknown", "vcs.modified": "unknown"}
	if bi != nil {
		if v := bi.Main.Version; v != "" {
			version = v
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			if _, ok := vcs[s.Key]; ok && s.Value != "" {
				vcs[s.Key] = s.Value
			}
		}
	}
	if Version != "" {
		version = Version
	}
	fmt.Fprintf(w, "shoal %s\n", version)
	fmt.Fprintf(w, "revision  %s\n", vcs["vcs.revision"])
	fmt.Fprintf(w, "time      %s\n", vcs["vcs.time"])
	fmt.Fprintf(w, "modified  %s\n", vcs["vcs.modified"])
	fmt.Fprintf(w, "go        %s\n", goVersion)
	fmt.Fprintf(w, "platform  %s/%s\n", runtime.GOOS, runtime.GOARCH)
}
