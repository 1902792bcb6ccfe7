package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/shoaldb/shoal/client"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

// labelsCommand is `shoal client labels`: set, list.
func labelsCommand(conn *connOptions) *clikit.Command {
	c := clikit.NewCommand("labels", "VERB", "set vectors' labels, list a collection's label names")
	c.Subs = []*clikit.Command{setLabelsVerb(conn), listLabelsVerb(conn)}
	return c
}

func setLabelsVerb(conn *connOptions) *clikit.Command {
	var names []string
	var ids clikit.IntList
	var tenant string
	var clearAll bool
	var src idSource
	cmd := clientVerb(conn, "set", "NAME (ID... | -ids FILE | -range A:B) (-names a,b | -label-ids 3,7) [flags]",
		"replace the labels of vectors (-clear removes them)",
		func(ctx context.Context, env *clikit.Env, c *client.Client, args []string) error {
			if len(args) < 1 {
				return clikit.Usagef("want NAME and ids")
			}
			vids, err := src.ids(args[1:])
			if err != nil {
				return err
			}
			if len(names) == 0 && len(ids) == 0 && !clearAll {
				return clikit.Invalidf("no labels given: -names, -label-ids, or -clear to remove every label of these vectors")
			}
			nums := make([]uint32, len(ids))
			for i, v := range ids {
				nums[i] = uint32(v)
			}
			var updated uint64
			for lo := 0; lo < len(vids); lo += clientBatch {
				req := &shoalv1.SetLabelsRequest{Collection: args[0], Tenant: tenant}
				for _, id := range vids[lo:min(lo+clientBatch, len(vids))] {
					req.Vectors = append(req.Vectors, &shoalv1.LabelSet{Id: id, Names: names, Labels: nums})
				}
				resp, err := c.Vectors.SetLabels(ctx, req)
				if err != nil {
					return err
				}
				updated += resp.GetUpdated()
			}
			fmt.Fprintf(env.Stdout, "set the labels of %d vectors in %s\n", updated, args[0])
			return nil
		})
	src.define(cmd)
	cmd.Flags.StringSliceVar(&names, "names", nil, "label names, comma-separated (red,archived)")
	cmd.Flags.Var(&ids, "label-ids", "numeric label ids, comma-separated (LabelSet.labels)")
	cmd.Flags.BoolVar(&clearAll, "clear", false, "set no labels: remove every label of these vectors")
	cmd.Flags.StringVar(&tenant, "tenant", "", "act for this tenant")
	return cmd
}

func listLabelsVerb(conn *connOptions) *clikit.Command {
	return clientVerb(conn, "list", "NAME", "list a collection's label names and their ids",
		func(ctx context.Context, env *clikit.Env, c *client.Client, args []string) error {
			if err := needArgs(args, 1, "NAME"); err != nil {
				return err
			}
			resp, err := c.Vectors.ListLabels(ctx, &shoalv1.ListLabelsRequest{Collection: args[0]})
			if err != nil {
				return err
			}
			for _, l := range resp.GetLabels() {
				fmt.Fprintf(env.Stdout, "%s\t%d\n", l.GetName(), l.GetId())
			}
			return nil
		})
}

// payloadsCommand is `shoal client payloads`: set, get.
func payloadsCommand(conn *connOptions) *clikit.Command {
	c := clikit.NewCommand("payloads", "VERB", "set and get vectors' JSON payloads")
	c.Subs = []*clikit.Command{setPayloadsVerb(conn), getPayloadsVerb(conn)}
	return c
}

// payloadLine is one line of a payloads file.
type payloadLine struct {
	ID      *uint64         `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

// readPayloads reads JSON lines {"id": N, "payload": {…}}.
func readPayloads(r io.Reader, name string) ([]*shoalv1.PayloadSet, error) {
	var sets []*shoalv1.PayloadSet
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var pl payloadLine
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&pl); err != nil {
			return nil, fmt.Errorf("%s:%d: %w (want {\"id\": N, \"payload\": {…}})", name, n, err)
		}
		if pl.ID == nil || pl.Payload == nil {
			return nil, fmt.Errorf("%s:%d: want both \"id\" and \"payload\"", name, n)
		}
		p, err := parsePayload(pl.Payload)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		sets = append(sets, &shoalv1.PayloadSet{Id: *pl.ID, Payload: p})
	}
	return sets, sc.Err()
}

// parsePayload parses a JSON object as a payload.
func parsePayload(b []byte) (*structpb.Struct, error) {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, fmt.Errorf("payload %.40q is not a JSON object", b)
	}
	return structpb.NewStruct(m)
}

func setPayloadsVerb(conn *connOptions) *clikit.Command {
	var file, tenant string
	cmd := clientVerb(conn, "set", "NAME (-file FILE.jsonl | ID JSON)",
		"set payloads: from JSON lines {\"id\": N, \"payload\": {…}} (-file, - for stdin), or one id and an inline JSON object",
		func(ctx context.Context, env *clikit.Env, c *client.Client, args []string) error {
			var sets []*shoalv1.PayloadSet
			switch {
			case file != "" && len(args) == 1:
				r, name := io.Reader(os.Stdin), "stdin"
				if file != "-" {
					f, err := os.Open(file)
					if err != nil {
						return err
					}
					defer f.Close()
					r, name = f, file
				}
				var err error
				if sets, err = readPayloads(r, name); err != nil {
					return err
				}
			case file == "" && len(args) == 3:
				id, err := strconv.ParseUint(args[1], 10, 64)
				if err != nil {
					return clikit.Usagef("id %q: want an unsigned integer", args[1])
				}
				p, err := parsePayload([]byte(args[2]))
				if err != nil {
					return clikit.InvalidError(err)
				}
				sets = []*shoalv1.PayloadSet{{Id: id, Payload: p}}
			default:
				return clikit.Usagef("want NAME -file FILE, or NAME ID JSON")
			}
			var updated uint64
			for lo := 0; lo < len(sets); lo += clientBatch {
				resp, err := c.Vectors.SetPayloads(ctx, &shoalv1.SetPayloadsRequest{Collection: args[0], Tenant: tenant, Vectors: sets[lo:min(lo+clientBatch, len(sets))]})
				if err != nil {
					return err
				}
				updated += resp.GetUpdated()
			}
			fmt.Fprintf(env.Stdout, "set the payloads of %d vectors in %s\n", updated, args[0])
			return nil
		})
	cmd.Flags.StringVar(&file, "file", "", "JSON lines of {\"id\": N, \"payload\": {…}}; - for stdin")
	cmd.Flags.StringVar(&tenant, "tenant", "", "act for this tenant")
	return cmd
}

func getPayloadsVerb(conn *connOptions) *clikit.Command {
	var tenant string
	var src idSource
	cmd := clientVerb(conn, "get", "NAME ID... [flags]", "print payloads as JSON lines {\"id\": N, \"payload\": {…}}",
		func(ctx context.Context, env *clikit.Env, c *client.Client, args []string) error {
			if len(args) < 1 {
				return clikit.Usagef("want NAME and ids")
			}
			ids, err := src.ids(args[1:])
			if err != nil {
				return err
			}
			vs, missing, err := getVectors(ctx, c, args[0], tenant, ids)
			if err != nil {
				return err
			}
			for _, v := range vs {
				var b strings.Builder
				fmt.Fprintf(&b, `{"id":%d,"payload":`, v.GetId())
				if p := v.GetPayload(); p != nil {
					pb, err := json.Marshal(p.AsMap())
					if err != nil {
						return err
					}
					b.Write(pb)
				} else {
					b.WriteString("null")
				}
				b.WriteString("}")
				fmt.Fprintln(env.Stdout, b.String())
			}
			if len(missing) > 0 {
				return fmt.Errorf("%d ids %w in %s: %v", len(missing), errMissing, args[0], missing[:min(len(missing), 10)])
			}
			return nil
		})
	src.define(cmd)
	cmd.Flags.StringVar(&tenant, "tenant", "", "act for this tenant")
	return cmd
}
