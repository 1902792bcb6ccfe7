// Package tenant holds who may read which vectors in a multi-tenant
// collection (Curator, arXiv 2401.07119): every tenant has an access list,
// a roaring bitmap of the vector ids it owns or was granted. Package index
// persists the lists, keeps them consistent with inserts, deletes, grants
// and revokes, and uses them to filter and route a tenant's searches.
package tenant
