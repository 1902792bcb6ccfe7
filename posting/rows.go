package posting

// Add appends one entry to p: id at version ver, with row (Dim elements
// of Elem, raw) copied. It assembles a posting for Encode; a Posting filled
// by Decode aliases its encoded bytes and must not be added to.
func (p *Posting) Add(id uint64, ver uint8, row []byte) {
	p.IDs = append(p.IDs, id)
	p.Versions = append(p.Versions, ver)
	p.Vectors = append(p.Vectors, row...)
}
