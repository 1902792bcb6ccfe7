// Package storetest is the conformance suite every posting.Store
// implementation must pass (STYLE rule 4), and the helpers that stores'
// own tests share.
//
// Run covers every method of posting.Store and posting.Batch: postings
// (bulk loads, reads, scans), metadata, caller records, batches (atomic
// visibility, order, lifetime, copying), and concurrent batches, readers
// and compaction. Tests of what survives a restart run only against stores
// that persist (an Opener that returns a reopen function).
package storetest

import (
	"testing"

	"github.com/shoaldb/shoal/posting"
)

// Opener returns a fresh, empty store, and a function that closes it and
// opens it again from what it persisted, returning the reopened store; nil
// if the store does not persist (memstore), and then the tests of reopening
// are skipped. The Opener closes the last store it returned when the test
// ends.
type Opener func(t *testing.T) (s posting.Store, reopen func() posting.Store)

// Run runs the whole suite against stores made by open, one subtest per
// behaviour.
func Run(t *testing.T, open Opener) {
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open) })
	}
}

// tests is the suite, grouped as the files that hold the tests.
var tests = []struct {
	name string
	fn   func(t *testing.T, open Opener)
}{
	// postings.go
	{"ReadMissingPostingIsNotFound", testReadMissingPostingIsNotFound},
	{"BulkLoadRoundTrips", testBulkLoadRoundTrips},
	{"BulkAddRejectsIDsNotIncreasing", testBulkAddRejectsIDsNotIncreasing},
	{"BulkAddRejectsEmptyPosting", testBulkAddRejectsEmptyPosting},
	{"BulkAbortDiscards", testBulkAbortDiscards},
	{"BulkCommitReplacesOnlyItsPostings", testBulkCommitReplacesOnlyItsPostings},
	{"ReadBatchSkipsMissingPostings", testReadBatchSkipsMissingPostings},
	{"ReadBatchStopsAtCallbackError", testReadBatchStopsAtCallbackError},
	{"ScanStopsAtCallbackError", testScanStopsAtCallbackError},
	{"ConcurrentReads", testConcurrentReads},
	{"DataFilesExist", testDataFilesExist},
	{"StatsAreConsistent", testStatsAreConsistent},
	{"VerifyFindsNoDamage", testVerifyFindsNoDamage},
	// meta.go
	{"MetaRoundTrips", testMetaRoundTrips},
	{"MetaApartFromCallerKeys", testMetaApartFromCallerKeys},
	// records.go
	{"GetMissingKeyIsNotFound", testGetMissingKeyIsNotFound},
	{"GetReturnsCopy", testGetReturnsCopy},
	{"GetSortedInOrderSkippingMissing", testGetSortedInOrderSkippingMissing},
	{"GetSortedRejectsKeysOutOfOrder", testGetSortedRejectsKeysOutOfOrder},
	{"GetSortedStopsAtCallbackError", testGetSortedStopsAtCallbackError},
	{"ScanPrefixBounds", testScanPrefixBounds},
	{"ScanPrefixStopsAtCallbackError", testScanPrefixStopsAtCallbackError},
	{"DeleteRangeBounds", testDeleteRangeBounds},
	// batch.go
	{"BatchInvisibleBeforeCommit", testBatchInvisibleBeforeCommit},
	{"BatchVisibleAfterCommit", testBatchVisibleAfterCommit},
	{"BatchCloseDiscards", testBatchCloseDiscards},
	{"BatchLaterChangeWins", testBatchLaterChangeWins},
	{"BatchesApplyInCommitOrder", testBatchesApplyInCommitOrder},
	{"BatchCopiesArguments", testBatchCopiesArguments},
	{"BatchDeletesOfMissingAreNoErrors", testBatchDeletesOfMissingAreNoErrors},
	{"BatchDeleteOnce", testBatchDeleteOnce},
	{"BatchRejectsEmptyPosting", testBatchRejectsEmptyPosting},
	{"BatchLenCountsRecords", testBatchLenCountsRecords},
	{"BatchDoneRejectsUse", testBatchDoneRejectsUse},
	{"SyncWAL", testSyncWAL},
	// reopen.go
	{"ReopenKeepsBulkLoadAndMeta", testReopenKeepsBulkLoadAndMeta},
	{"ReopenKeepsCommittedBatches", testReopenKeepsCommittedBatches},
	// concurrent.go
	{"ConcurrentBatchesRewriteDistinctPostings", testConcurrentBatchesRewriteDistinctPostings},
	{"ConcurrentBatchesRewriteSamePostings", testConcurrentBatchesRewriteSamePostings},
	{"CompactSegmentLosesToConcurrentRewrites", testCompactSegmentLosesToConcurrentRewrites},
}
