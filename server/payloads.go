package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/shoaldb/shoal/index"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// Payloads and label names on the wire. A payload is a
// google.protobuf.Struct, stored by the index as its JSON (protojson,
// compacted): the server refuses a Struct holding a NaN or infinite
// number or a string or key of invalid UTF-8, or whose compact JSON is
// larger than Options.MaxPayloadBytes, with InvalidArgument naming the
// vector, before anything is stored. Labels travel as names or decimal
// ids (index/labelnames.go): a write gives new names ids (in a batch of
// their own, just before the write: a write that then fails leaves the
// new names unused, which is harmless), a read never does, and Get
// returns each label by its name where it has one.

// payloadJSON returns the compact JSON of payload s of vector what, or
// the InvalidArgument status that refuses it.
func (s *Server) payloadJSON(what string, p *structpb.Struct) ([]byte, error) {
	if err := checkStruct(p); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%s: payload %v", what, err)
	}
	raw, err := protojson.Marshal(p)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%s: payload: %v", what, err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, internal("%s: payload: compact: %v", what, err)
	}
	if buf.Len() > s.opts.MaxPayloadBytes {
		return nil, status.Errorf(codes.InvalidArgument, "%s: payload of %d bytes (compact JSON), above the server's limit of %d", what, buf.Len(), s.opts.MaxPayloadBytes)
	}
	return buf.Bytes(), nil
}

// checkStruct finds what JSON cannot hold in a Struct: NaN and infinite
// numbers, invalid UTF-8. It reports where.
func checkStruct(p *structpb.Struct) error {
	var walk func(path string, v *structpb.Value, depth int) error
	walk = func(path string, v *structpb.Value, depth int) error {
		if depth > 100 {
			return fmt.Errorf("at %s: nested deeper than 100", path)
		}
		switch k := v.GetKind().(type) {
		case *structpb.Value_NumberValue:
			if math.IsNaN(k.NumberValue) || math.IsInf(k.NumberValue, 0) {
				return fmt.Errorf("at %s: %v is not a JSON number", path, k.NumberValue)
			}
		case *structpb.Value_StringValue:
			if !utf8.ValidString(k.StringValue) {
				return fmt.Errorf("at %s: string is not valid UTF-8", path)
			}
		case *structpb.Value_StructValue:
			for key, e := range k.StructValue.GetFields() {
				if !utf8.ValidString(key) {
					return fmt.Errorf("at %s: a key is not valid UTF-8", path)
				}
				if err := walk(path+"."+key, e, depth+1); err != nil {
					return err
				}
			}
		case *structpb.Value_ListValue:
			for i, e := range k.ListValue.GetValues() {
				if err := walk(path+"["+strconv.Itoa(i)+"]", e, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk("$", structpb.NewStructValue(p), 0)
}

// payloadStruct returns stored payload JSON as a Struct (nil for none).
func payloadStruct(id uint64, b []byte) (*structpb.Struct, error) {
	if b == nil {
		return nil, nil
	}
	s := &structpb.Struct{}
	if err := protojson.Unmarshal(b, s); err != nil {
		return nil, status.Errorf(codes.DataLoss, "id %d: stored payload: %v", id, err)
	}
	return s, nil
}

// resolveNamed returns the label ids of the labels of a write, names[i]
// those of vector i (names or decimal ids, checked by
// checkLabelStrings), giving the new names ids, all in one batch. It
// returns nil when no vector has labels.
func resolveNamed(c *collection, names [][]string) ([][]uint32, error) {
	var all []string
	fresh := false
	for _, ls := range names {
		for _, s := range ls {
			if _, ok := c.ix.LabelID(s); !ok {
				fresh = true // a new name
			}
		}
		all = append(all, ls...)
	}
	if len(all) == 0 {
		return nil, nil
	}
	var flat []uint32
	if fresh {
		var err error
		if flat, err = c.ix.LabelIDs(all); err != nil {
			if errors.Is(err, index.ErrBadInput) {
				return nil, status.Errorf(codes.InvalidArgument, "labels: %s", clipMessage(err.Error()))
			}
			return nil, indexError(err)
		}
	} else {
		flat = make([]uint32, len(all))
		for i, s := range all {
			flat[i], _ = c.ix.LabelID(s)
		}
	}
	out := make([][]uint32, len(names))
	for i, ls := range names {
		out[i], flat = flat[:len(ls):len(ls)], flat[len(ls):]
	}
	return out, nil
}

// checkLabelStrings checks the label strings of a write without
// resolving them: a decimal id must be a uint32, a name 1..256 bytes.
func checkLabelStrings(what string, labels []string) error {
	if len(labels) > index.MaxLabelsPerID {
		return status.Errorf(codes.InvalidArgument, "%s: %d labels, at most %d", what, len(labels), index.MaxLabelsPerID)
	}
	for _, s := range labels {
		if err := index.CheckLabel(s); err != nil {
			return status.Errorf(codes.InvalidArgument, "%s: %s", what, clipMessage(err.Error()))
		}
	}
	return nil
}

// checkReservedLabels refuses, for a tenant key, label ids written by
// number in the range of label names (index.NamedLabelBase and up) that
// no name holds: names take ids above every number ever written, so one
// tenant writing 4294967295 would leave no id for any tenant's new names
// (nor for names derived from indexed payload fields). strs are label
// strings (names or decimal ids), nums label ids. The admin key may
// write any id.
func checkReservedLabels(ctx context.Context, c *collection, what string, strs []string, nums []uint32) error {
	if principalOf(ctx).admin {
		return nil
	}
	check := func(id uint64) error {
		if id < index.NamedLabelBase {
			return nil
		}
		if _, named := c.ix.LabelName(uint32(id)); named {
			return nil
		}
		return status.Errorf(codes.InvalidArgument, "%s: label id %d: ids %d and up belong to label names and no name has this one; a tenant key may write ids below %d, or names", what, id, uint64(index.NamedLabelBase), uint64(index.NamedLabelBase))
	}
	for _, s := range strs {
		if id, err := strconv.ParseUint(s, 10, 32); err == nil {
			if err := check(id); err != nil {
				return err
			}
		}
	}
	for _, id := range nums {
		if err := check(uint64(id)); err != nil {
			return err
		}
	}
	return nil
}

// labelStrings returns labels as Get shows them: names where they have
// one, else decimal ids.
func labelStrings(c *collection, ls []uint32) []string {
	if len(ls) == 0 {
		return nil
	}
	out := make([]string, len(ls))
	for i, l := range ls {
		if n, ok := c.ix.LabelName(l); ok {
			out[i] = n
		} else {
			out[i] = strconv.FormatUint(uint64(l), 10)
		}
	}
	return out
}

func (a vectorsAPI) SetPayloads(ctx context.Context, req *shoalv1.SetPayloadsRequest) (*shoalv1.SetPayloadsResponse, error) {
	c, t, tname, err := a.begin(ctx, req.GetTenant(), req.GetCollection(), "vectors", len(req.GetVectors()))
	if err != nil {
		return nil, err
	}
	defer c.release()
	ids := make([]uint64, len(req.GetVectors()))
	ps := make([][]byte, len(ids))
	seen := make(map[uint64]int, len(ids))
	for i, v := range req.GetVectors() {
		if j, dup := seen[v.GetId()]; dup {
			return nil, status.Errorf(codes.InvalidArgument, "id %d appears twice in the request (vectors %d and %d)", v.GetId(), j, i)
		}
		seen[v.GetId()] = i
		ids[i] = v.GetId()
		if v.GetPayload() != nil {
			if ps[i], err = a.payloadJSON(fmt.Sprintf("vector %d (id %d)", i, v.GetId()), v.GetPayload()); err != nil {
				return nil, err
			}
		}
	}
	wdone, err := c.writing()
	if err != nil {
		return nil, err
	}
	defer wdone()
	if t != 0 {
		if err := tenantOwns(c, t, tname, ids, "no payloads were set"); err != nil {
			return nil, err
		}
	}
	if err := ctxError(ctx, "the payloads were set"); err != nil {
		return nil, err
	}
	// tenantOwns said who owns what; the index checks it again with the
	// write, under its writer lock, against a delete and re-insert by
	// another tenant in between.
	if t != 0 {
		err = c.ix.SetPayloadsOwned(t, ids, ps)
	} else {
		err = c.ix.SetPayloads(ids, ps)
	}
	if err != nil {
		return nil, indexError(err)
	}
	return &shoalv1.SetPayloadsResponse{Updated: uint64(len(ids))}, nil
}

// ListLabels lists the label names of a collection. Labels are
// collection-wide, so a tenant key sees only the names that label some
// vector its tenant may read (a name of another tenant's vectors is not
// listed); the admin key sees every name.
func (a vectorsAPI) ListLabels(ctx context.Context, req *shoalv1.ListLabelsRequest) (*shoalv1.ListLabelsResponse, error) {
	c, t, _, err := a.begin(ctx, "", req.GetCollection(), "labels", 1) // no batch to check
	if err != nil {
		return nil, err
	}
	defer c.release()
	var names []index.LabelName
	if t != 0 {
		names, err = c.ix.LabelNamesFor(t)
	} else {
		names = c.ix.LabelNames()
	}
	if err != nil {
		return nil, indexError(err)
	}
	resp := &shoalv1.ListLabelsResponse{Labels: make([]*shoalv1.LabelName, len(names))}
	size := 16
	for i, n := range names {
		resp.Labels[i] = &shoalv1.LabelName{Name: n.Name, Id: n.ID}
		if size += len(n.Name) + 16; size > a.opts.MaxResponseBytes {
			return nil, status.Errorf(codes.ResourceExhausted, "the %d label names of collection %s take more than the server's response limit of %d bytes", len(names), clip(req.GetCollection()), a.opts.MaxResponseBytes)
		}
	}
	return resp, nil
}

// responseBudget counts the bytes of a response whose size the request
// cannot bound (payloads, label names) as it is built.
type responseBudget struct {
	left int64
	what string
	hint string // what to do instead
}

// charge counts m; past the budget it returns ResourceExhausted.
func (b *responseBudget) charge(m proto.Message) error {
	if b == nil {
		return nil
	}
	b.left -= int64(proto.Size(m)) + 8
	if b.left < 0 {
		return status.Errorf(codes.ResourceExhausted, "%s: the response grew past the server's response limit (payloads and labels are counted as they are read); %s", b.what, b.hint)
	}
	return nil
}
