package providers

import "strings"

// Readable is the part of a cloud resource name a person reads: s in
// lowercase letters and digits, every run of other characters one hyphen,
// at most budget bytes, with no hyphen at either end. It may be empty.
// Providers add a hash for uniqueness; this part only helps people.
func Readable(s string, budget int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if b.Len() >= budget {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			if s := b.String(); s != "" && !strings.HasSuffix(s, "-") {
				b.WriteByte('-')
			}
		}
	}
	return strings.Trim(b.String(), "-")
}
