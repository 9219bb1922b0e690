package ctl

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// Encodings of an imported file.
const (
	encAuto = "auto"
	encUTF8 = "utf-8"
	encGBK  = "gbk"
)

// utf8BOM is the byte order mark some editors put at the start of a file.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// decodeText returns the text of an imported file as UTF-8 and the
// encoding it was read in. enc is auto, utf-8 or gbk. auto: valid UTF-8
// (with or without a byte order mark) is UTF-8; otherwise the file must
// decode as GBK (the Java console writes its export in GBK) without one
// invalid sequence and hold no line of non-ASCII UTF-8, else it is refused
// naming the line (see gbkProblem). Nothing is ever replaced by U+FFFD.
func decodeText(src string, data []byte, enc string) ([]byte, string, error) {
	data = bytes.TrimPrefix(data, utf8BOM)
	switch strings.ToLower(enc) {
	case encAuto, "":
		if utf8.Valid(data) {
			return data, encUTF8, nil
		}
		if p := gbkProblem(data); p != "" {
			return nil, "", fmt.Errorf("%s: %s", src, p)
		}
		out, _ := decodeGBK(data)
		return out, encGBK, nil
	case encUTF8, "utf8":
		if line := badUTF8Line(data); line > 0 {
			return nil, "", fmt.Errorf("%s: line %d: not valid UTF-8 (the Java console writes GBK: try --encoding gbk)", src, line)
		}
		return data, encUTF8, nil
	case encGBK:
		out, line := decodeGBK(data)
		if line > 0 {
			return nil, "", fmt.Errorf("%s: line %d: not valid GBK", src, line)
		}
		return out, encGBK, nil
	}
	return nil, "", usagef("import: --encoding %q: must be auto, utf-8 or gbk", enc)
}

// decodeGBK decodes GBK text strictly, line by line: it returns the text
// and 0, or nil and the number of the first line holding a byte sequence
// that is not GBK (the decoder would have made it U+FFFD).
func decodeGBK(data []byte) ([]byte, int) {
	var out bytes.Buffer
	for i, line := range bytes.SplitAfter(data, []byte("\n")) {
		dec, err := simplifiedchinese.GBK.NewDecoder().Bytes(line)
		if err != nil || bytes.ContainsRune(dec, utf8.RuneError) {
			return nil, i + 1
		}
		out.Write(dec)
	}
	return out.Bytes(), 0
}

// gbkProblem says why a file that is not UTF-8 cannot be taken for GBK:
// a line that is neither, or a line of non-ASCII UTF-8 among lines that
// are not (an editor mixed the two; reading it all as GBK would turn that
// line into other characters). "" when the file reads as GBK.
func gbkProblem(data []byte) string {
	notUTF8, isUTF8 := 0, 0
	for i, line := range bytes.SplitAfter(data, []byte("\n")) {
		u := utf8.Valid(line)
		if _, bad := decodeGBK(line); !u && bad > 0 {
			return fmt.Sprintf("line %d: neither UTF-8 nor GBK (give --encoding to say which it is)", i+1)
		}
		switch {
		case !u && notUTF8 == 0:
			notUTF8 = i + 1
		case u && !isASCII(line) && isUTF8 == 0:
			isUTF8 = i + 1
		}
	}
	if isUTF8 > 0 {
		return fmt.Sprintf("mixed encodings: line %d is UTF-8 and line %d is not (re-save the file in one encoding, or give --encoding)", isUTF8, notUTF8)
	}
	return ""
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// badUTF8Line returns the number of the first line that is not valid
// UTF-8, 0 when every line is.
func badUTF8Line(data []byte) int {
	for i, line := range bytes.SplitAfter(data, []byte("\n")) {
		if !utf8.Valid(line) {
			return i + 1
		}
	}
	return 0
}
