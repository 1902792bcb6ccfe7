package index

import (
	"encoding/json"
	"fmt"
	"time"
)

// metaManifest is the metadata key of the manifest in the posting store.
const metaManifest = "index"

// manifestVersion is bumped on incompatible changes of the index layout.
// Version 2 is a quantized index (Quant set, posting format version 2);
// an index without codes is still written as version 1, so that older
// binaries keep opening it.
const (
	manifestVersion      = 1
	manifestVersionQuant = 2
)

// Manifest describes a built index. It is the last thing Build writes (with
// a synced write), so a directory whose store has a manifest holds a
// complete index, and an interrupted build leaves none.
type Manifest struct {
	Version    int      `json:"version"`
	Dim        int      `json:"dim"`
	Elem       ElemType `json:"elem"`
	Metric     Metric   `json:"metric"`
	Count      int      `json:"count"`
	Heads      int      `json:"heads"`
	Replicas   int      `json:"replicas"`
	PostingCap int      `json:"posting_cap"`
	Ratio      float64  `json:"ratio"`
	RNGFactor  float64  `json:"rng_factor"`
	Seed       uint64   `json:"seed"`
	// Entries is the number of (posting, vector) entries written; the
	// replication factor is Entries/Count.
	Entries int64 `json:"entries"`
	// Dropped is the number of replica entries removed by PostingCap.
	Dropped   int64     `json:"dropped"`
	BuiltAt   time.Time `json:"built_at"`
	BuildSecs float64   `json:"build_secs"`
	// Quant describes the codes of a quantized index (version 2); nil for
	// an index whose postings hold rows.
	Quant *QuantInfo `json:"quant,omitempty"`
}

// manifestVersionOf returns the manifest version of an index with
// quantization qi (nil for none).
func manifestVersionOf(qi *QuantInfo) int {
	if qi != nil {
		return manifestVersionQuant
	}
	return manifestVersion
}

func (m *Manifest) marshal() []byte {
	b, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("index: marshal manifest: %v", err))
	}
	return b
}

func unmarshalManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: manifest: %v", ErrCorrupt, err)
	}
	switch {
	case m.Version == manifestVersion && m.Quant == nil, m.Version == manifestVersionQuant && m.Quant != nil:
	case m.Version > manifestVersionQuant:
		return nil, fmt.Errorf("%w: manifest version %d, this build of Shoal reads 1 and 2: open it with the Shoal that built it, or rebuild it", ErrCorrupt, m.Version)
	default:
		return nil, fmt.Errorf("%w: manifest version %d with quantization %v", ErrCorrupt, m.Version, m.Quant)
	}
	if m.Dim <= 0 || !m.Elem.Valid() || !m.Metric.Valid() || m.Heads <= 0 {
		return nil, fmt.Errorf("%w: manifest dim %d elem %d metric %d heads %d", ErrCorrupt, m.Dim, m.Elem, m.Metric, m.Heads)
	}
	return &m, nil
}
