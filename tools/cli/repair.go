package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

func init() {
	register(newRepair)
}

const repairAbout = `Open refuses an index whose write-ahead log is damaged before its last
synced write, rather than drop acknowledged writes (docs/reliability.md).
repair says where the damage is and exactly which writes a salvage drops;
it changes nothing unless -salvage is given. With -salvage it cuts the
log at the damage, deletes later logs, opens and checks the index: every
write logged before the damage is kept, and the ids of the upserts,
deletes, label and access changes logged after it are listed. Writes in
records that cannot be decoded are listed as unreadable stretches: their
ids are unknown. Exit status 1 if damage is found and not salvaged, or
the check after the salvage fails. DIR may also be a server's data
directory (a shared database): every index in it is checked.`

// repairOptions are the flags of `shoal repair`.
type repairOptions struct {
	dir     string
	salvage bool
	jsonOut bool
}

// Validate reports flags that cannot work.
func (o *repairOptions) Validate() error {
	if o.dir == "" {
		return errors.New("an index directory is required")
	}
	return nil
}

// runRepair is `shoal repair`.
func newRepair() *clikit.Command {
	var o repairOptions
	c := clikit.NewCommand("repair", "[-salvage] [-json] DIR", "report write-ahead log damage; -salvage cuts the log there and lists the ids lost")
	c.Group = clikit.GroupIndex
	c.Long = repairAbout
	fs := c.Flags
	fs.BoolVar(&o.salvage, "salvage", false, "cut the log at the damage and keep what can be kept (changes the index)")
	fs.BoolVar(&o.jsonOut, "json", false, "print the report as JSON")
	fs.StringVar(&o.dir, "index", "", "index directory (or give it as the argument)")
	// Flags may follow DIR too (shoal repair DIR -salvage).
	c.Run = func(ctx context.Context, env *clikit.Env, args []string) error {
		if err := clikit.OptionalArg(args, &o.dir, &o); err != nil {
			return err
		}
		return o.Run(ctx, env)
	}
	return c
}

// errDamage is returned by a report-only repair that found damage.
var errDamage = errors.New("the write-ahead log is damaged: nothing changed; rerun with -salvage to cut it at the damage")

// Run examines (and with -salvage repairs) the index and prints the
// report.
func (o *repairOptions) Run(_ context.Context, env *clikit.Env) error {
	rep, err := index.Repair(o.dir, &index.RepairOptions{Salvage: o.salvage})
	if rep == nil {
		return err
	}
	if o.jsonOut {
		if jerr := writeRepairJSON(env.Stdout, rep, err); jerr != nil {
			return jerr
		}
	} else {
		writeRepair(env.Stdout, rep, o.salvage)
	}
	switch {
	case err != nil:
		return err
	case !rep.Salvaged && (rep.Refused || rep.Cut != nil):
		return errDamage
	}
	return nil
}

// writeRepair prints the report as text.
func writeRepair(w io.Writer, rep *index.RepairReport, salvage bool) {
	fmt.Fprintf(w, "index %s\n", rep.Dir)
	if len(rep.Damage) == 0 && !rep.Refused {
		fmt.Fprintln(w, "write-ahead log: no damage")
		return
	}
	if rep.Refused {
		fmt.Fprintf(w, "open refuses it: %v\n", rep.Reason)
	}
	for _, d := range rep.Damage {
		var what string
		switch {
		case rep.Cut != nil && d == *rep.Cut:
			what = "the cut: every write logged from here on is dropped"
		case d.TornTail:
			what = "a torn tail past the last synced write: writes in flight at a crash, never acknowledged; open drops them"
		case !d.Needed:
			what = "in a log already flushed: loses nothing"
		default:
			what = "after the cut"
		}
		fmt.Fprintf(w, "damage: %s at offset %d: %s (%s)\n", d.File, d.Offset, d.Problem, what)
	}
	for _, p := range rep.Removed {
		fmt.Fprintf(w, "later log, dropped whole: %s\n", p)
	}
	names := make([]string, 0, len(rep.Lost))
	for name := range rep.Lost {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		lw := rep.Lost[name]
		in := ""
		if name != "" {
			in = " of " + name
		}
		fmt.Fprintf(w, "dropped%s: %d batches (sequence numbers %d to %d), %d of them synced, %d maintenance only\n",
			in, lw.Batches, lw.FirstSeq, lw.LastSeq, lw.Synced, lw.Maintenance)
		writeIDs(w, "upserts lost", lw.Upserts)
		writeIDs(w, "deletes undone", lw.Deletes)
		writeIDs(w, "label changes lost", lw.Labels)
		writeIDs(w, "payload changes lost", lw.Payloads)
		writeIDs(w, "access changes lost", lw.Access)
	}
	for i, s := range rep.Unreadable {
		n := fmt.Sprintf("%d bytes", s.Length)
		if s.Length < 0 {
			n = "to the end of the file"
		}
		what := ""
		if i == 0 && rep.Cut != nil && s.File == rep.Cut.File && s.Offset == rep.Cut.Offset {
			what = "the damaged record; "
		}
		fmt.Fprintf(w, "unreadable: %s at offset %d, %s: %s (%sthe ids of its writes are unknown)\n", s.File, s.Offset, n, s.Problem, what)
	}
	if rep.SyncedUnknown {
		fmt.Fprintln(w, "the last synced batch is in no readable record: synced writes were in the unreadable stretches or in a log file that is gone, and their ids are unknown")
	}
	switch {
	case rep.Salvaged:
		fmt.Fprintf(w, "salvaged: the log is cut at the damage; every write logged before it is kept\n")
		for _, dir := range rep.Checked {
			fmt.Fprintf(w, "checked: %s OK\n", dir)
		}
	case rep.Refused || rep.Cut != nil:
		if !salvage {
			fmt.Fprintf(w, "nothing changed: `shoal repair -salvage %s` cuts the log at the damage and keeps every write before it\n", rep.Dir)
		}
	default:
		fmt.Fprintln(w, "nothing to salvage: open keeps every synced write")
	}
}

// writeIDs prints a list of ids, twenty to a line.
func writeIDs(w io.Writer, what string, ids []uint64) {
	fmt.Fprintf(w, "%s: %d ids\n", what, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), 20)
		s := make([]string, n)
		for i, id := range ids[:n] {
			s[i] = fmt.Sprint(id)
		}
		fmt.Fprintf(w, "  %s\n", strings.Join(s, " "))
		ids = ids[n:]
	}
}

// repairJSON is the report as -json prints it.
type repairJSON struct {
	Dir           string                       `json:"dir"`
	Refused       bool                         `json:"refused"`
	Reason        string                       `json:"reason,omitempty"`
	Damage        []index.LogDamage            `json:"damage"`
	Cut           *index.LogDamage             `json:"cut"`
	Removed       []string                     `json:"removed"`
	Lost          map[string]*index.LostWrites `json:"lost"`
	Unreadable    []index.LogStretch           `json:"unreadable"`
	SyncedUnknown bool                         `json:"synced_unknown"`
	Salvaged      bool                         `json:"salvaged"`
	Checked       []string                     `json:"checked"`
	CheckError    string                       `json:"check_error,omitempty"`
}

func writeRepairJSON(w io.Writer, rep *index.RepairReport, checkErr error) error {
	j := repairJSON{
		Dir: rep.Dir, Refused: rep.Refused, Damage: rep.Damage, Cut: rep.Cut, Removed: rep.Removed,
		Lost: rep.Lost, Unreadable: rep.Unreadable, SyncedUnknown: rep.SyncedUnknown, Salvaged: rep.Salvaged, Checked: rep.Checked,
	}
	if rep.Reason != nil {
		j.Reason = rep.Reason.Error()
	}
	if checkErr != nil {
		j.CheckError = checkErr.Error()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(j)
}
