package vecfile

import "testing"

func TestFormatFromPath(t *testing.T) {
	tests := []struct {
		path string
		want Format
	}{
		{"/d/base.fvecs", FVecs},
		{"bigann_base.bvecs", BVecs},
		{"gt/idx_1M.ivecs", IVecs},
		{"base.1B.fbin", FBin},
		{"base.1B.u8bin", U8Bin},
		{"query.public.10K.i8bin", I8Bin},
		{"GT.public.ibin", IBin},
		{"emb.npy", NPY},
		{"UPPER.FVECS", FVecs},
		{"base.1B.u8bin.crop_nb_10000000", U8Bin},
		{"base.1B.fbin.crop_nb_1000", FBin},
	}
	for _, tt := range tests {
		got, err := FormatFromPath(tt.path)
		if err != nil || got != tt.want {
			t.Errorf("FormatFromPath(%q) = %v, %v; want %v", tt.path, got, err, tt.want)
		}
	}
}

func TestFormatFromPathUnknown(t *testing.T) {
	for _, path := range []string{"a.txt", "a", "fvecs", "a.fvecs.gz", "a.u8bin.crop_nb_", "a.u8bin.crop_nb_x"} {
		_, err := FormatFromPath(path)
		wantErr(t, err, ErrFormat, path, "extension")
	}
}

func TestFormatStringAndElem(t *testing.T) {
	tests := []struct {
		f    Format
		name string
		elem Elem
	}{
		{FVecs, "fvecs", Float32},
		{BVecs, "bvecs", Uint8},
		{IVecs, "ivecs", Int32},
		{FBin, "fbin", Float32},
		{U8Bin, "u8bin", Uint8},
		{I8Bin, "i8bin", Int8},
		{IBin, "ibin", Int32},
		{NPY, "npy", 0},
		{0, "Format(0)", 0},
		{42, "Format(42)", 0},
	}
	for _, tt := range tests {
		if got := tt.f.String(); got != tt.name {
			t.Errorf("Format(%d).String() = %q, want %q", uint8(tt.f), got, tt.name)
		}
		if got := tt.f.Elem(); got != tt.elem {
			t.Errorf("%v.Elem() = %v, want %v", tt.f, got, tt.elem)
		}
	}
}
