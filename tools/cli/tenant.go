package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

func init() {
	register(newTenant)
}

const tenantAbout = `tenant changes or lists the tenants of an index (ids 1..4294967295):

  shoal tenant -index DIR list
  shoal tenant -index DIR create T
  shoal tenant -index DIR drop T                        deletes the vectors T owns
  shoal tenant -index DIR own T (-ids FILE | -range A:B)     T owns these (ownerless) vectors
  shoal tenant -index DIR grant T (-ids FILE | -range A:B)   T may read them too
  shoal tenant -index DIR revoke T (-ids FILE | -range A:B)

Each command is atomic and durable when it returns. Search as a tenant
with shoal search -tenant T.`

// tenantOptions are the flags and arguments of `shoal tenant`.
type tenantOptions struct {
	index, ids string
	rng        idRange
	verb       string
	tenant     uint32
}

// tenantVerbs says which verbs take a tenant and which take ids.
var tenantVerbs = map[string]struct{ tenant, ids bool }{
	"list": {}, "create": {tenant: true}, "drop": {tenant: true},
	"own": {true, true}, "grant": {true, true}, "revoke": {true, true},
}

func (o *tenantOptions) Validate() error {
	v, ok := tenantVerbs[o.verb]
	switch {
	case o.index == "":
		return errors.New("-index is required")
	case !ok:
		return fmt.Errorf("unknown tenant command %q (list, create, drop, own, grant, revoke)", o.verb)
	case v.tenant && o.tenant == 0:
		return fmt.Errorf("%s needs a tenant id from 1 to 4294967295", o.verb)
	case v.ids && (o.ids == "") == !o.rng.set:
		return fmt.Errorf("%s needs exactly one of -ids and -range", o.verb)
	case !v.ids && (o.ids != "" || o.rng.set):
		return fmt.Errorf("%s takes no ids", o.verb)
	case o.rng.set && o.rng.hi-o.rng.lo > deleteMaxRange:
		return fmt.Errorf("-range %v spans more than %d ids", &o.rng, uint64(deleteMaxRange))
	}
	return nil
}

func newTenant() *clikit.Command {
	var o tenantOptions
	c := clikit.NewCommand("tenant", "-index DIR list|create T|drop T|own T|grant T|revoke T [-ids FILE | -range A:B]", "manage an index's tenants: list, create, drop, own, grant, revoke")
	c.Group = clikit.GroupIndex
	c.Long = tenantAbout
	fs := c.Flags
	fs.StringVar(&o.index, "index", "", "index directory")
	fs.StringVar(&o.ids, "ids", "", "vector ids (.ivecs .ibin or int32 .npy, all rows)")
	fs.Var(&o.rng, "range", "vector ids A:B, that is A, A+1, …, B-1")
	c.Run = func(ctx context.Context, env *clikit.Env, args []string) error {
		pos := args // flags may come before or after the verb and tenant
		if len(pos) > 0 {
			o.verb = pos[0]
		}
		if len(pos) > 1 {
			t, err := strconv.ParseUint(pos[1], 10, 32)
			if err != nil {
				return clikit.Usagef("tenant %q: want an id from 1 to 4294967295", pos[1])
			}
			o.tenant = uint32(t)
		}
		if len(pos) > 2 {
			return clikit.Usagef("unexpected arguments %q", pos[2:])
		}
		if err := o.Validate(); err != nil {
			return clikit.InvalidError(err)
		}
		return o.Run(ctx, env)
	}
	return c
}

// Run applies the command.
func (o *tenantOptions) Run(ctx context.Context, env *clikit.Env) error {
	var ids []uint64
	if o.ids != "" {
		var err error
		if ids, err = readIDs(o.ids); err != nil {
			return err
		}
		ids, _ = distinct(ids)
	} else if o.rng.set {
		for id := o.rng.lo; id < o.rng.hi; id++ {
			ids = append(ids, id)
		}
	}
	ix, err := index.Open(o.index, &index.Options{CacheBytes: -1})
	if err != nil {
		return err
	}
	defer ix.Close()
	switch o.verb {
	case "list":
		tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "tenant\tvectors\t")
		for _, t := range ix.Tenants() {
			n, err := ix.TenantLen(t)
			if err != nil {
				return err
			}
			fmt.Fprintf(tw, "%d\t%d\t\n", t, n)
		}
		st := ix.TenantStats()
		fmt.Fprintf(tw, "\n%d tenants, %d shortlists of %d rows; memory: shortlists %s, lists %s\n", st.Tenants, st.Shortlists, st.ShortlistRows, clikit.FormatBytes(st.ShortlistBytes), clikit.FormatBytes(st.ListBytes))
		err = tw.Flush()
	case "create":
		err = ix.CreateTenant(o.tenant)
	case "drop":
		err = ix.DropTenant(o.tenant)
	case "own":
		err = ix.Own(o.tenant, ids)
	case "grant":
		err = ix.Grant(o.tenant, ids)
	case "revoke":
		err = ix.Revoke(o.tenant, ids)
	}
	if err != nil {
		return err
	}
	if o.verb != "list" {
		n, _ := ix.TenantLen(o.tenant)
		fmt.Fprintf(env.Stdout, "%s tenant %d: done; it may read %d vectors\n", o.verb, o.tenant, n)
	}
	return ix.Close()
}
