package benchcli

import (
	"encoding/json"
	"io"
	"os"

	"github.com/shoaldb/shoal/tools/internal/clikit"
	"github.com/spf13/pflag"
)

// reportOptions are the flags of where a benchmark's report goes besides
// the table on stdout, and of its profile.
type reportOptions struct {
	jsonOut    string // -json: the report as JSON ("" for none)
	cpuprofile string // -cpuprofile: a CPU profile of the whole run ("" for none)
}

// define defines -json, with the help jsonHelp, and -cpuprofile on fs.
func (r *reportOptions) define(fs *pflag.FlagSet, jsonHelp string) {
	fs.StringVar(&r.jsonOut, "json", "", jsonHelp)
	fs.StringVar(&r.cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
}

// runReport runs a benchmark under r's CPU profile and a GC target of
// 25 %, prints its report on env.Stdout, writes it as JSON to r's -json
// file, and returns it.
func runReport[R interface{ Print(io.Writer) }](env *clikit.Env, r reportOptions, run func() (R, error)) (R, error) {
	var zero R
	stop, err := clikit.StartCPUProfile(r.cpuprofile)
	if err != nil {
		return zero, err
	}
	defer stop()
	defer clikit.LowerGC()()
	rep, err := run()
	if err != nil {
		return zero, err
	}
	rep.Print(env.Stdout)
	if r.jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(r.jsonOut, append(b, '\n'), 0o644); err != nil {
			return zero, err
		}
	}
	return rep, nil
}
