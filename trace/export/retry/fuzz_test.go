package retry

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// FuzzParseRetryAfter: a server's Retry-After header is a number of seconds or an HTTP date. Whatever it says,
// the wait is not negative; a wait read from it is written back (as seconds, or as the date it ends at) and
// read again the same.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", " 7 ", "4294967295", "4294967296", "-1", "1.5", "Fri, 31 Dec 9999 23:59:59 GMT",
		"Mon, 23 Nov 2026 17:00:00 GMT", "Monday, 23-Nov-26 17:00:00 GMT", "Mon Nov 23 17:00:00 2026", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d := ParseRetryAfter(v, now)
		if d < 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v, negative", v, d)
		}
		if d == 0 || d%time.Second != 0 {
			return
		}
		if d <= (1<<32-1)*time.Second { // the most seconds a header may give
			if again := ParseRetryAfter(strconv.FormatInt(int64(d/time.Second), 10), now); again != d {
				t.Fatalf("ParseRetryAfter(%q) = %v, but its seconds read back as %v", v, d, again)
			}
		}
		if d < 200*365*24*time.Hour {
			if again := ParseRetryAfter(now.Add(d).Format(http.TimeFormat), now); again != d {
				t.Fatalf("ParseRetryAfter(%q) = %v, but its date reads back as %v", v, d, again)
			}
		}
	})
}
