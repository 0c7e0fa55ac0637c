package mapping

import (
	"errors"
	"time"
)

// parseDuration reads a Gateway API Duration (GEP-2257): one to four
// components, each one to five digits followed by a unit h, m, s or ms, as
// in "1h", "500ms" or "1h2m3s4ms". The format is a strict subset of Go's
// time.ParseDuration; it is checked here rather than handed to Go's parser
// so that a value the API server's pattern would refuse (for example
// "1.5s", "-1s" or "1us", possible with an older CRD) is reported instead
// of quietly meaning something.
func parseDuration(s string) (time.Duration, error) {
	errFormat := errors.New("not a Gateway API duration")
	var total time.Duration
	components := 0
	for i := 0; i < len(s); {
		start := i
		var n int64
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			n = n*10 + int64(s[i]-'0')
			i++
		}
		if digits := i - start; digits < 1 || digits > 5 || i == len(s) {
			return 0, errFormat
		}
		var unit time.Duration
		switch {
		case s[i] == 'h':
			unit, i = time.Hour, i+1
		case s[i] == 'm' && i+1 < len(s) && s[i+1] == 's':
			unit, i = time.Millisecond, i+2
		case s[i] == 'm':
			unit, i = time.Minute, i+1
		case s[i] == 's':
			unit, i = time.Second, i+1
		default:
			return 0, errFormat
		}
		// Five digits of hours are far below time.Duration's range even
		// four times over, so the sum cannot overflow.
		total += time.Duration(n) * unit
		components++
	}
	if components < 1 || components > 4 {
		return 0, errFormat
	}
	return total, nil
}
