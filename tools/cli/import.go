package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shoaldb/shoal/client"
	"github.com/shoaldb/shoal/index"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

func init() {
	register(newImport)
}

const importAbout = `Imports FILE (.fvecs .bvecs .fbin .u8bin .i8bin .npy) into collection NAME
of a running server, row i under id first-id + i: a local FILE is streamed
to the server (AdminService.Import); with -server, FILE is a file in the
server's -import-dir (StartImport). Into an empty collection, with
first-id 0, the server builds the index offline and swaps it in (method
BUILD); otherwise it upserts the rows (UPSERT). The command then follows
the job until it ends, with a progress bar; the job lives on the server,
so interrupting the command does not stop it, and a server restart
resumes it.

  shoal import NAME FILE [-first-id N] [-tenant T] [-method auto|upsert|build] [-server] [-detach]
  shoal import -list              the server's import jobs, oldest first
  shoal import -job ID            follow a job until it ends
  shoal import -cancel ID         stop a job`

// importOptions are the flags and arguments of `shoal import`.
type importOptions struct {
	conn         *connOptions // -addr, -key and TLS: its own, or shoal client's
	name, file   string
	firstID      uint64
	tenant       string
	method       string
	onServer     bool
	detach       bool
	quiet        bool
	list         bool
	job, cancel  string
	pollInterval time.Duration
}

// importMethods maps -method to the API's methods.
var importMethods = map[string]shoalv1.ImportMethod{
	"auto":   shoalv1.ImportMethod_IMPORT_METHOD_AUTO,
	"upsert": shoalv1.ImportMethod_IMPORT_METHOD_UPSERT,
	"build":  shoalv1.ImportMethod_IMPORT_METHOD_BUILD,
}

// Validate reports flags and arguments that cannot work.
func (o *importOptions) Validate() error {
	modes := 0
	for _, on := range []bool{o.list, o.job != "", o.cancel != "", o.name != "" || o.file != ""} {
		if on {
			modes++
		}
	}
	_, known := importMethods[o.method]
	switch {
	case modes != 1:
		return errors.New("give NAME FILE, or one of -list, -job ID, -cancel ID")
	case (o.name == "") != (o.file == ""):
		return errors.New("give both the collection NAME and the FILE")
	case !known:
		return fmt.Errorf("-method %q: want auto, upsert or build", o.method)
	case o.pollInterval <= 0:
		return fmt.Errorf("-poll %v, want > 0", o.pollInterval)
	}
	return nil
}

// newImport is `shoal import`, with connection flags of its own.
func newImport() *clikit.Command { return importCommand(nil) }

// importCommand is `shoal import`, or with conn (the connection flags of
// shoal client) `shoal client import`.
func importCommand(conn *connOptions) *clikit.Command {
	o := importOptions{conn: conn}
	c := clikit.NewCommand("import", "NAME FILE [flags] | -list | -job ID | -cancel ID", "load a vector file into a server's collection (offline build when empty), with progress; list, follow or cancel import jobs")
	c.Group = clikit.GroupServer
	c.Long = importAbout
	fs := c.Flags
	if conn == nil {
		o.conn = &connOptions{}
		o.conn.define(fs)
	}
	fs.Uint64Var(&o.firstID, "first-id", 0, "id of the file's first row")
	fs.StringVar(&o.tenant, "tenant", "", "owner tenant of the rows (must exist in the collection)")
	fs.StringVar(&o.method, "method", "auto", "auto (build when the collection is empty and first-id is 0), upsert or build")
	fs.BoolVar(&o.onServer, "server", false, "FILE is a path in the server's -import-dir, not a local file")
	fs.BoolVar(&o.detach, "detach", false, "print the job once started and return; do not follow it")
	fs.BoolVar(&o.quiet, "q", false, "no progress bars")
	fs.BoolVar(&o.list, "list", false, "list the server's import jobs")
	fs.StringVar(&o.job, "job", "", "follow job ID until it ends")
	fs.StringVar(&o.cancel, "cancel", "", "cancel job ID")
	fs.DurationVar(&o.pollInterval, "poll", 250*time.Millisecond, "how often to ask the server how a job is going")
	c.Run = func(ctx context.Context, env *clikit.Env, args []string) error {
		rest := args // flags and the positional arguments in any order
		switch len(rest) {
		case 0:
		case 2:
			o.name, o.file = rest[0], rest[1]
		default:
			return clikit.Usagef("want NAME FILE, got %d arguments", len(rest))
		}
		if err := o.Validate(); err != nil {
			return clikit.InvalidError(err)
		}
		return o.conn.explain(o.Run(ctx, env))
	}
	return c
}

// Run starts, follows, lists or cancels import jobs.
func (o *importOptions) Run(ctx context.Context, env *clikit.Env) error {
	c, err := o.conn.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	switch {
	case o.list:
		resp, err := c.Admin.ListImports(ctx, &shoalv1.ListImportsRequest{})
		if err != nil {
			return err
		}
		for _, j := range resp.GetJobs() {
			fmt.Fprintln(env.Stdout, jobLine(j))
		}
		return nil
	case o.cancel != "":
		j, err := c.Admin.CancelImport(ctx, &shoalv1.CancelImportRequest{Id: o.cancel})
		if err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, jobLine(j))
		return nil
	case o.job != "":
		return o.follow(ctx, env, c, o.job)
	}
	var j *shoalv1.ImportJob
	if o.onServer {
		j, err = c.Admin.StartImport(ctx, &shoalv1.StartImportRequest{
			Collection: o.name, Path: o.file, FirstId: o.firstID, Tenant: o.tenant, Method: importMethods[o.method],
		})
	} else {
		j, err = o.stream(ctx, env, c)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "import job %s: %d rows into %s, method %s\n", j.GetId(), j.GetTotal(), j.GetCollection(), methodName(j.GetMethod()))
	if o.detach {
		fmt.Fprintln(env.Stdout, jobLine(j))
		return nil
	}
	return o.follow(ctx, env, c, j.GetId())
}

// stream sends the local file's rows to the server (AdminService.Import)
// and returns the job it started.
func (o *importOptions) stream(ctx context.Context, env *clikit.Env, c *client.Client) (*shoalv1.ImportJob, error) {
	src, err := index.OpenFile(o.file)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	var bar *clikit.Bar
	if !o.quiet {
		bar = clikit.NewBar(env.Stderr, "upload", int64(src.Len()))
		defer bar.Finish()
	}
	req := &shoalv1.ImportRequest{
		Collection: o.name, FirstId: o.firstID, Tenant: o.tenant, Method: importMethods[o.method],
		ElementType: apiElem(src.Elem()), Dim: uint32(src.Dim()),
	}
	return c.Import(ctx, req, &sourceReader{src: src}, func(rows int64) {
		if bar != nil {
			bar.Set(rows)
		}
	})
}

// follow polls job id until it ends, drawing its progress, and prints
// its outcome; a job that does not end DONE is an error.
func (o *importOptions) follow(ctx context.Context, env *clikit.Env, c *client.Client, id string) error {
	var bar *clikit.Bar
	var stage string
	j, err := c.WaitImport(ctx, id, o.pollInterval, func(j *shoalv1.ImportJob) {
		if o.quiet || j.GetState() != shoalv1.ImportJob_STATE_RUNNING {
			return
		}
		label, done, total := "upsert", int64(j.GetDone()), int64(j.GetTotal())
		if j.GetMethod() == shoalv1.ImportMethod_IMPORT_METHOD_BUILD {
			label, done, total = "build: "+j.GetStage(), int64(j.GetStageDone()), int64(j.GetStageTotal())
		}
		if bar == nil || label != stage {
			if bar != nil {
				bar.Finish()
			}
			bar, stage = clikit.NewBar(env.Stderr, label, total), label
		}
		bar.SetTotal(total)
		bar.Set(done)
	})
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(env.Stderr, "import job %s goes on on the server: shoal import -job %s follows it, -cancel %s stops it\n", id, id, id)
		}
		return err
	}
	fmt.Fprintln(env.Stdout, jobLine(j))
	switch j.GetState() {
	case shoalv1.ImportJob_STATE_DONE:
		return nil
	case shoalv1.ImportJob_STATE_CANCELLED:
		return fmt.Errorf("import job %s was cancelled after %d of %d rows", id, j.GetDone(), j.GetTotal())
	}
	return fmt.Errorf("import job %s failed: %s", id, j.GetError())
}

// jobLine describes a job on one line.
func jobLine(j *shoalv1.ImportJob) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%d/%d rows", j.GetId(), j.GetCollection(), strings.TrimPrefix(j.GetState().String(), "STATE_"),
		methodName(j.GetMethod()), j.GetDone(), j.GetTotal())
	if j.GetFinishedUnixMs() != 0 {
		secs := float64(j.GetFinishedUnixMs()-j.GetStartedUnixMs()) / 1000
		fmt.Fprintf(&b, "\t%.1fs", secs)
		if j.GetState() == shoalv1.ImportJob_STATE_DONE && secs > 0 {
			fmt.Fprintf(&b, "\t%.0f vectors/s", float64(j.GetDone())/secs)
		}
	} else if j.GetStage() != "" {
		fmt.Fprintf(&b, "\tstage %s %d/%d", j.GetStage(), j.GetStageDone(), j.GetStageTotal())
	}
	if j.GetResumed() > 0 {
		fmt.Fprintf(&b, "\tresumed %d×", j.GetResumed())
	}
	if j.GetError() != "" {
		fmt.Fprintf(&b, "\t%s", j.GetError())
	}
	return b.String()
}

func methodName(m shoalv1.ImportMethod) string {
	return strings.ToLower(strings.TrimPrefix(m.String(), "IMPORT_METHOD_"))
}

// sourceReader reads the raw rows of a Source, in order.
type sourceReader struct {
	src  index.Source
	next int
	buf  []byte
	off  int
}

// readRows is how many rows sourceReader reads from its source at once.
const readRows = 4096

func (r *sourceReader) Read(p []byte) (int, error) {
	if r.off == len(r.buf) {
		if r.next == r.src.Len() {
			return 0, io.EOF
		}
		n := min(readRows, r.src.Len()-r.next)
		rb := r.src.Dim() * r.src.Elem().Size()
		if cap(r.buf) < n*rb {
			r.buf = make([]byte, n*rb)
		}
		r.buf, r.off = r.buf[:n*rb], 0
		if err := r.src.ReadRows(r.next, n, r.buf); err != nil {
			return 0, err
		}
		r.next += n
	}
	n := copy(p, r.buf[r.off:])
	r.off += n
	return n, nil
}
