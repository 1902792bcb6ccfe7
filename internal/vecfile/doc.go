// Package vecfile reads and writes the vector data files used by ANN
// benchmarks, as a stream: a Reader never holds more than its buffer and the
// rows the caller asks for, so data sets larger than RAM can be read.
//
// # Formats
//
// All numbers are little-endian. The element type of a file is one of
// float32, uint8, int8 and int32 (see Elem).
//
// TEXMEX (corpus-texmex.irisa.fr), one header per row:
//
//	.fvecs  per row: int32 dim, then dim float32
//	.bvecs  per row: int32 dim, then dim uint8
//	.ivecs  per row: int32 dim, then dim int32
//
// Every row must repeat the same dim; a Reader checks each row's prefix as it
// reads it. The row count is file size / (4 + dim*elemsize), so the file size
// must be a multiple of that row size. An empty (0-byte) file is a valid file
// with no rows; its Dim is 0. A non-empty file with dim <= 0 is rejected.
//
// big-ann-benchmarks (big-ann-benchmarks.com), one header per file:
//
//	.fbin   uint32 n, uint32 dim, then n*dim float32 (row-major)
//	.u8bin  uint32 n, uint32 dim, then n*dim uint8
//	.i8bin  uint32 n, uint32 dim, then n*dim int8
//	.ibin   uint32 n, uint32 dim, then n*dim int32
//
// The file size must be exactly 8 + n*dim*elemsize, with one exception: the
// ground-truth files of big-ann-benchmarks (e.g. GT.public.ibin) hold n*dim
// int32 neighbour ids followed by n*dim float32 distances under one header.
// An .ibin file of exactly 8 + 2*n*dim*4 bytes is read as such a file: its
// rows are the ids, the distances are ignored. A name of the form
// "base.1B.u8bin.crop_nb_10000000" (cropped big-ann files) is recognised by
// the extension before ".crop_nb_".
//
// NumPy .npy (numpy.org/neps/nep-0001-npy-format.html), versions 1.0, 2.0
// and 3.0:
//
//	"\x93NUMPY", uint8 major, uint8 minor,
//	header length: uint16 (1.0) or uint32 (2.0, 3.0),
//	header: a Python dict literal, e.g.
//	        {'descr': '<f4', 'fortran_order': False, 'shape': (1000, 128), }
//	        padded with spaces and a final '\n'
//	then the array data.
//
// Only 2-D arrays in C order (fortran_order False) with descr '<f4', '|u1',
// '|i1' or '<i4' are supported; the dict must hold exactly the keys 'descr',
// 'fortran_order' and 'shape', as NumPy itself requires. The file size must be
// exactly the data offset + rows*dim*elemsize.
//
// # Limits and errors
//
// Dimensions must be in [1, MaxDim]. Files that do not follow their format
// give errors that wrap ErrFormat (a bad or unsupported header, a row whose
// dim prefix differs, trailing bytes) or ErrTruncated (the file ends early);
// the message names the file and the byte offset of the problem.
//
// Files are little-endian on every host: readers and writers move raw bytes
// and the typed helpers (ReadFloat32, Writer.WriteFloat32, ...) encode and
// decode explicitly.
package vecfile
