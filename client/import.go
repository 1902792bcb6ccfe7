package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// ImportMessageBytes bounds the row bytes of one message of Import: well
// under the server's default message limit (64 MiB), large enough that
// the per-message cost vanishes.
const ImportMessageBytes = 4 << 20

// Import streams rows to the server (AdminService.Import), which keeps
// them and then runs an import job over them (the job is returned
// RUNNING: follow it with WaitImport). job names the collection, first
// id, tenant, method, element type and dimension; its rows field is
// ignored. rows yields the raw rows until io.EOF: row-major, job.Dim
// little-endian elements of job.ElementType (FLOAT32, UINT8 or INT8)
// each. sent, if set, is called with the rows sent so far after each
// message.
func (c *Client) Import(ctx context.Context, job *shoalv1.ImportRequest, rows io.Reader, sent func(rows int64)) (*shoalv1.ImportJob, error) {
	size := 4
	switch job.GetElementType() {
	case shoalv1.ElementType_ELEMENT_TYPE_UINT8, shoalv1.ElementType_ELEMENT_TYPE_INT8:
		size = 1
	}
	rowBytes := int(job.GetDim()) * size
	if rowBytes <= 0 {
		return nil, errors.New("client: Import needs job.Dim")
	}
	buf := make([]byte, max(1, ImportMessageBytes/rowBytes)*rowBytes)
	st, err := c.Admin.Import(ctx)
	if err != nil {
		return nil, err
	}
	first := &shoalv1.ImportRequest{
		Collection: job.GetCollection(), FirstId: job.GetFirstId(), Tenant: job.GetTenant(),
		Method: job.GetMethod(), ElementType: job.GetElementType(), Dim: job.GetDim(),
	}
	var total int64
	for msg := first; ; msg = new(shoalv1.ImportRequest) {
		n, rerr := io.ReadFull(rows, buf)
		if rerr != nil && !errors.Is(rerr, io.EOF) && !errors.Is(rerr, io.ErrUnexpectedEOF) {
			st.CloseSend()
			return nil, fmt.Errorf("client: import: read rows: %w", rerr)
		}
		if n%rowBytes != 0 {
			st.CloseSend()
			return nil, fmt.Errorf("client: import: the rows end in a partial row (%d bytes of %d)", n%rowBytes, rowBytes)
		}
		if n == 0 && msg != first {
			break
		}
		msg.Rows = buf[:n]
		if err := st.Send(msg); err != nil {
			break // the server ended the stream: CloseAndRecv says why
		}
		total += int64(n / rowBytes)
		if sent != nil {
			sent(total)
		}
		if rerr != nil {
			break
		}
	}
	return st.CloseAndRecv()
}

// WaitImport polls the import job id (GetImport) every interval until it
// is no longer RUNNING, and returns it then. fn, if set, sees every
// answer. A job the server resumes after a restart is followed through:
// polls that fail with UNAVAILABLE are retried until ctx ends.
func (c *Client) WaitImport(ctx context.Context, id string, interval time.Duration, fn func(*shoalv1.ImportJob)) (*shoalv1.ImportJob, error) {
	for {
		j, err := c.Admin.GetImport(ctx, &shoalv1.GetImportRequest{Id: id})
		switch {
		case err == nil:
			if fn != nil {
				fn(j)
			}
			if j.GetState() != shoalv1.ImportJob_STATE_RUNNING {
				return j, nil
			}
		case !isUnavailable(err):
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(interval):
		}
	}
}

func isUnavailable(err error) bool { return status.Code(err) == codes.Unavailable }
