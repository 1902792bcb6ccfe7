package index

import (
	"encoding/json"
	"fmt"
	"time"
)

// metaManifest is the metadata key of the manifest in the posting store.
const metaManifest = "index"

// manifestVersion is bumped on incompatible changes of the index layout.
const manifestVersion = 1

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
	if m.Version != manifestVersion {
		return nil, fmt.Errorf("%w: manifest version %d, this build reads %d", ErrCorrupt, m.Version, manifestVersion)
	}
	if m.Dim <= 0 || !m.Elem.Valid() || !m.Metric.Valid() || m.Heads <= 0 {
		return nil, fmt.Errorf("%w: manifest dim %d elem %d metric %d heads %d", ErrCorrupt, m.Dim, m.Elem, m.Metric, m.Heads)
	}
	return &m, nil
}
