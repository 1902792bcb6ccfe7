package server_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoaldb/shoal/client"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// TestKeyReachProperty runs random sequences of collection creates and
// drops, tenant creates and deletes, owned upserts, grants, revokes, key
// issues and revokes and server restarts (reopening the same data
// directory) against a real server and a model of what each key may
// reach, and checks after every step that every key ever issued reaches
// exactly what the model says: which collections it lists, which
// collection and tenant it may read (Get, Search, DescribeCollection)
// and write (Upsert), and the codes of everything else.
func TestKeyReachProperty(t *testing.T) {
	// A few seconds on 2 cores; fewer steps under -race, which CI also
	// runs and which is several times slower.
	steps := 60
	if testing.Short() || raceEnabled {
		steps = 20
	}
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			m := newKeyModel(t, seed)
			for step := range steps {
				m.step(step)
				m.check(step)
				if t.Failed() {
					t.Fatalf("seed %d: model and server differ after step %d; the steps:\n%s", seed, step, m.log)
				}
			}
			live := 0
			for _, k := range m.keys {
				if m.live(k) {
					live++
				}
			}
			t.Logf("%d checks of a live key, %d of a dead one, %d upserts by keys", m.liveChecks, m.deadChecks, m.keyWrites)
			t.Logf("%d steps, %d keys issued, %d live at the end, %d collections", steps, len(m.keys), live, len(m.colls))
		})
	}
}

var (
	modelColls   = []string{"c0", "c1", "c2"}
	modelTenants = []string{"a", "b"}
)

type modelVec struct {
	owner  string // "" for none
	grants map[string]bool
}

type modelColl struct {
	inc     int            // incarnation: a collection made again is another
	tenants map[string]int // name → incarnation
	vecs    map[uint64]*modelVec
}

type modelKey struct {
	secret, id string
	coll       string
	collInc    int
	tenant     string
	tenantInc  int
	revoked    bool
	// deadChecked: checked whole since it died and since the last
	// restart.
	deadChecked bool
}

type keyModel struct {
	t       *testing.T
	ctx     context.Context
	rng     *rand.Rand
	ts      *testServer
	admin   *client.Client
	clients map[string]*client.Client // by secret, for the running server
	colls   map[string]*modelColl
	keys    []*modelKey
	inc     int    // last incarnation handed out
	nextID  uint64 // next vector id
	log     string // the steps so far, for a failure's message
	// How much was checked, for the log.
	liveChecks, deadChecks, keyWrites int
}

func newKeyModel(t *testing.T, seed uint64) *keyModel {
	m := &keyModel{
		t: t, ctx: context.Background(), rng: rand.New(rand.NewPCG(seed, 14)),
		colls: map[string]*modelColl{}, nextID: 1,
	}
	m.ts = start(t, "", nil)
	m.reconnect()
	return m
}

func (m *keyModel) reconnect() {
	m.admin = m.ts.dial("admin")
	m.clients = map[string]*client.Client{}
	for _, k := range m.keys {
		k.deadChecked = false
	}
}

func (m *keyModel) client(k *modelKey) *client.Client {
	c, ok := m.clients[k.secret]
	if !ok {
		c = m.ts.dial(k.secret)
		m.clients[k.secret] = c
	}
	return c
}

func (m *keyModel) logf(format string, args ...any) {
	m.log += fmt.Sprintf(format, args...) + "\n"
}

// want checks a call's code against the model's.
func (m *keyModel) want(what string, err error, code codes.Code) {
	m.t.Helper()
	if got := status.Code(err); got != code {
		m.t.Errorf("%s: %v (%v), model says %v", what, got, err, code)
	}
}

func (m *keyModel) live(k *modelKey) bool {
	c := m.colls[k.coll]
	return !k.revoked && c != nil && c.inc == k.collInc && c.tenants[k.tenant] == k.tenantInc
}

// readable returns the ids tenant may read in coll, sorted.
func (m *keyModel) readable(coll, tenant string) []uint64 {
	var out []uint64
	for id, v := range m.colls[coll].vecs {
		if v.owner == tenant || v.grants[tenant] {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func (m *keyModel) pick(xs []string) string { return xs[m.rng.IntN(len(xs))] }

func (m *keyModel) vec() []float32 {
	return []float32{m.rng.Float32() * 10, m.rng.Float32() * 10}
}

// step applies one random operation to the server and the model.
func (m *keyModel) step(step int) {
	m.t.Helper()
	// Mostly a collection and tenant that exist (the others test the
	// refusals).
	r := m.rng.IntN(100)
	coll, tenant := m.pick(modelColls), m.pick(modelTenants)
	if names := slices.Sorted(maps.Keys(m.colls)); len(names) > 0 && r >= 8 && m.rng.IntN(5) > 0 {
		coll = m.pick(names)
	}
	c := m.colls[coll]
	if c != nil && (r < 10 || r >= 26) {
		if names := slices.Sorted(maps.Keys(c.tenants)); len(names) > 0 && m.rng.IntN(5) > 0 {
			tenant = m.pick(names)
		}
	}
	what := func(op string) string { return fmt.Sprintf("step %d: %s", step, op) }
	switch {
	case r < 8: // create collection
		m.logf("%d: create collection %s", step, coll)
		_, err := m.admin.CreateCollection(m.ctx, coll, &shoalv1.CollectionConfig{Dim: 2})
		if c != nil {
			m.want(what("CreateCollection of an existing one"), err, codes.AlreadyExists)
			return
		}
		m.want(what("CreateCollection"), err, codes.OK)
		m.inc++
		m.colls[coll] = &modelColl{inc: m.inc, tenants: map[string]int{}, vecs: map[uint64]*modelVec{}}
	case r < 10: // drop collection
		m.logf("%d: drop collection %s", step, coll)
		err := m.admin.DropCollection(m.ctx, coll)
		if c == nil {
			m.want(what("DropCollection of a missing one"), err, codes.NotFound)
			return
		}
		m.want(what("DropCollection"), err, codes.OK)
		delete(m.colls, coll)
	case r < 26: // create tenant
		m.logf("%d: create tenant %s/%s", step, coll, tenant)
		_, err := m.admin.Tenants.CreateTenant(m.ctx, &shoalv1.CreateTenantRequest{Collection: coll, Tenant: tenant})
		switch {
		case c == nil:
			m.want(what("CreateTenant in a missing collection"), err, codes.NotFound)
		case c.tenants[tenant] != 0:
			m.want(what("CreateTenant of an existing one"), err, codes.AlreadyExists)
		default:
			m.want(what("CreateTenant"), err, codes.OK)
			m.inc++
			c.tenants[tenant] = m.inc
		}
	case r < 31: // delete tenant
		m.logf("%d: delete tenant %s/%s", step, coll, tenant)
		_, err := m.admin.Tenants.DeleteTenant(m.ctx, &shoalv1.DeleteTenantRequest{Collection: coll, Tenant: tenant})
		if c == nil || c.tenants[tenant] == 0 {
			m.want(what("DeleteTenant of a missing one"), err, codes.NotFound)
			return
		}
		m.want(what("DeleteTenant"), err, codes.OK)
		delete(c.tenants, tenant)
		for id, v := range c.vecs {
			if v.owner == tenant {
				delete(c.vecs, id)
			}
			delete(v.grants, tenant)
		}
	case r < 48: // upsert by the admin key, owned by a tenant or none
		if c == nil {
			return
		}
		owner := ""
		if names := slices.Sorted(maps.Keys(c.tenants)); len(names) > 0 && m.rng.IntN(4) > 0 {
			owner = m.pick(names)
		}
		id := m.nextID
		m.nextID++
		m.logf("%d: upsert %s id %d owner %q", step, coll, id, owner)
		_, err := m.admin.Vectors.Upsert(m.ctx, &shoalv1.UpsertRequest{Collection: coll, Tenant: owner, Vectors: []*shoalv1.Vector{{Id: id, Values: m.vec()}}})
		m.want(what("admin Upsert"), err, codes.OK)
		c.vecs[id] = &modelVec{owner: owner, grants: map[string]bool{}}
	case r < 58: // grant a vector the tenant does not own
		if c == nil || c.tenants[tenant] == 0 {
			return
		}
		var ids []uint64
		for id, v := range c.vecs {
			if v.owner != tenant {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			return
		}
		slices.Sort(ids)
		id := ids[m.rng.IntN(len(ids))]
		m.logf("%d: grant %s id %d to %s", step, coll, id, tenant)
		_, err := m.admin.Tenants.Grant(m.ctx, &shoalv1.GrantRequest{Collection: coll, Tenant: tenant, Ids: []uint64{id}})
		m.want(what("Grant"), err, codes.OK)
		c.vecs[id].grants[tenant] = true
	case r < 63: // revoke a grant
		if c == nil || c.tenants[tenant] == 0 {
			return
		}
		var ids []uint64
		for id, v := range c.vecs {
			if v.grants[tenant] {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			return
		}
		slices.Sort(ids)
		id := ids[m.rng.IntN(len(ids))]
		m.logf("%d: revoke %s id %d from %s", step, coll, id, tenant)
		_, err := m.admin.Tenants.Revoke(m.ctx, &shoalv1.RevokeRequest{Collection: coll, Tenant: tenant, Ids: []uint64{id}})
		m.want(what("Revoke"), err, codes.OK)
		delete(c.vecs[id].grants, tenant)
	case r < 86: // issue a key
		m.logf("%d: issue a key for %s/%s", step, coll, tenant)
		k, err := m.admin.Admin.CreateAPIKey(m.ctx, &shoalv1.CreateAPIKeyRequest{Collection: coll, Tenant: tenant})
		if c == nil || c.tenants[tenant] == 0 {
			m.want(what("CreateAPIKey for a missing tenant"), err, codes.NotFound)
			return
		}
		m.want(what("CreateAPIKey"), err, codes.OK)
		if err == nil {
			m.keys = append(m.keys, &modelKey{
				secret: k.GetSecret(), id: k.GetKey().GetId(),
				coll: coll, collInc: c.inc, tenant: tenant, tenantInc: c.tenants[tenant],
			})
		}
	case r < 94: // revoke a key
		if len(m.keys) == 0 {
			return
		}
		k := m.keys[m.rng.IntN(len(m.keys))]
		var live []*modelKey
		for _, k := range m.keys {
			if m.live(k) {
				live = append(live, k)
			}
		}
		if len(live) > 0 && m.rng.IntN(4) > 0 {
			k = live[m.rng.IntN(len(live))]
		}
		m.logf("%d: revoke key %s (%s/%s)", step, k.id, k.coll, k.tenant)
		_, err := m.admin.Admin.RevokeAPIKey(m.ctx, &shoalv1.RevokeAPIKeyRequest{Id: k.id})
		if !m.live(k) {
			m.want(what("RevokeAPIKey of a revoked key"), err, codes.NotFound)
			return
		}
		m.want(what("RevokeAPIKey"), err, codes.OK)
		k.revoked = true
	default: // restart
		m.logf("%d: restart", step)
		m.ts.stop()
		m.ts.restart()
		m.reconnect()
	}
}

// check compares every key's reach, and the admin's list of keys, with
// the model.
func (m *keyModel) check(step int) {
	m.t.Helper()
	var want, got []string
	for _, k := range m.keys {
		if m.live(k) {
			want = append(want, k.id)
		}
	}
	list, err := m.admin.Admin.ListAPIKeys(m.ctx, &shoalv1.ListAPIKeysRequest{})
	if err != nil {
		m.t.Fatalf("step %d: ListAPIKeys: %v", step, err)
	}
	for _, k := range list.GetKeys() {
		got = append(got, k.GetId())
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		m.t.Errorf("step %d: the server's keys %v, the model's live keys %v", step, got, want)
	}
	for _, k := range m.keys {
		m.checkKey(step, k)
	}
}

func (m *keyModel) checkKey(step int, k *modelKey) {
	m.t.Helper()
	cl := m.client(k)
	live := m.live(k)
	if !live && k.deadChecked {
		// Dead for good: checked whole once since it died or since the
		// last restart; now one call.
		_, err := cl.Collections.ListCollections(m.ctx, &shoalv1.ListCollectionsRequest{})
		m.want(fmt.Sprintf("step %d: dead key %s of %s/%s: ListCollections", step, k.id, k.coll, k.tenant), err, codes.Unauthenticated)
		return
	}
	if live {
		m.liveChecks++
	} else {
		m.deadChecks++
		k.deadChecked = true
	}
	what := func(op string) string {
		return fmt.Sprintf("step %d: key %s of %s/%s (live %v): %s", step, k.id, k.coll, k.tenant, live, op)
	}
	// code is the model's answer to a call of k on coll.
	code := func(coll string) codes.Code {
		switch {
		case !live:
			return codes.Unauthenticated
		case coll != k.coll:
			return codes.PermissionDenied
		}
		return codes.OK
	}
	var readable []uint64
	if live {
		readable = m.readable(k.coll, k.tenant)
	}

	cols, err := cl.Collections.ListCollections(m.ctx, &shoalv1.ListCollectionsRequest{})
	m.want(what("ListCollections"), err, code(k.coll))
	if err == nil {
		if n := len(cols.GetCollections()); n != 1 || cols.GetCollections()[0].GetName() != k.coll || cols.GetCollections()[0].GetVectorCount() != uint64(len(readable)) {
			m.t.Errorf("%s: lists %v; the model: only %s, %d vectors", what("ListCollections"), cols.GetCollections(), k.coll, len(readable))
		}
	}

	for _, coll := range modelColls {
		ids := []uint64{1 << 40} // never stored
		if c := m.colls[coll]; c != nil {
			ids = append(ids, slices.Sorted(maps.Keys(c.vecs))...)
		}
		got, err := cl.Get(m.ctx, coll, ids)
		m.want(what("Get on "+coll), err, code(coll))
		if err == nil {
			if ids := slices.Sorted(maps.Keys(got)); !slices.Equal(ids, readable) {
				m.t.Errorf("%s: reads %v; the model: %v", what("Get on "+coll), ids, readable)
			}
		}
		_, err = cl.Tenants.ListTenants(m.ctx, &shoalv1.ListTenantsRequest{Collection: coll})
		m.want(what("ListTenants on "+coll), err, code(coll))
	}

	hits, err := cl.Search(m.ctx, k.coll, m.vec(), 1000, &shoalv1.SearchParams{Nprobe: 64})
	m.want(what("Search"), err, code(k.coll))
	if err == nil {
		var ids []uint64
		for _, h := range hits {
			ids = append(ids, h.GetId())
		}
		slices.Sort(ids)
		if !slices.Equal(ids, readable) {
			m.t.Errorf("%s: finds %v; the model: %v", what("Search"), ids, readable)
		}
	}
	for _, other := range modelTenants {
		if other == k.tenant {
			continue
		}
		_, err := cl.Vectors.Search(m.ctx, &shoalv1.SearchRequest{Collection: k.coll, Tenant: other, Query: m.vec(), TopK: 10})
		want := code(k.coll)
		if want == codes.OK {
			want = codes.PermissionDenied
		}
		m.want(what("Search as tenant "+other), err, want)
	}

	// Writes: into a random collection of the universe, now and then.
	if m.rng.IntN(3) > 0 {
		return
	}
	coll := m.pick(modelColls)
	id := m.nextID
	m.nextID++
	err = cl.Upsert(m.ctx, coll, []uint64{id}, [][]float32{m.vec()})
	m.want(what("Upsert into "+coll), err, code(coll))
	if err == nil {
		m.logf("%d: key %s upserts %s id %d", step, k.id, coll, id)
		m.keyWrites++
		m.colls[coll].vecs[id] = &modelVec{owner: k.tenant, grants: map[string]bool{}}
	}
}
