// Package errs holds the error sentinels that several layers of Shoal
// return, so that an error made below package index (in tenant, say) and
// one made by index itself are the same value to errors.Is. Package index
// re-exports each one under its public name (index.ErrCorrupt, …); callers
// test those.
package errs

import "errors"

var (
	// BadInput reports an argument that cannot be served.
	BadInput = errors.New("shoal: bad input")
	// NotFinite reports a vector with NaN or ±Inf.
	NotFinite = errors.New("shoal: vector has NaN or Inf")
	// Corrupt reports stored data that fails its checks.
	Corrupt = errors.New("shoal: index is corrupt")
	// NotFound reports an id that holds no vector.
	NotFound = errors.New("shoal: vector not found")
	// UnknownTenant reports a tenant that was never created or was
	// dropped, or tenant 0.
	UnknownTenant = errors.New("shoal: unknown tenant")
	// TenantExists reports the creation of a tenant that exists.
	TenantExists = errors.New("shoal: tenant exists")
)
