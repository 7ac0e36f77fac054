package dbsql

import (
	"strings"
	"testing"
)

func TestObfuscate(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SELECT * FROM t WHERE id = ?", "SELECT * FROM t WHERE id = ?"},
		{"SELECT * FROM t WHERE id = $1 AND n > $12", "SELECT * FROM t WHERE id = $1 AND n > $12"},
		{"SELECT * FROM t WHERE name = 'IPA'", "SELECT * FROM t WHERE name = ?"},
		{"SELECT * FROM t WHERE name = 'it''s'", "SELECT * FROM t WHERE name = ?"},
		{`SELECT * FROM t WHERE name = 'a\'b' AND x = 1`, "SELECT * FROM t WHERE name = ? AND x = ?"},
		{"SELECT * FROM t2 WHERE a1 = 12.5e3 AND b = .5 AND c = -3", "SELECT * FROM t2 WHERE a1 = ? AND b = ? AND c = -?"},
		{"SELECT \"col 1\", `col2` FROM \"t 9\"", "SELECT \"col 1\", `col2` FROM \"t 9\""},
		{"SELECT x'DEADBEEF', 0xFF, E'a\\n', N'ü'", "SELECT ?, ?, ?, ?"},
		{"SELECT 1 -- the answer is 42\nFROM t", "SELECT ? -- the answer is 42\nFROM t"},
		{"SELECT /* 42 */ 7", "SELECT /* 42 */ ?"},
		{"SELECT 'unterminated", "SELECT ?"},
		{"INSERT INTO t VALUES (1, 'a'), (2, 'b')", "INSERT INTO t VALUES (?, ?), (?, ?)"},
		{"", ""},
		{"SELECT café FROM t WHERE ü1 = 1", "SELECT café FROM t WHERE ü1 = ?"},
	}
	for _, tt := range tests {
		if got := Obfuscate(tt.in); got != tt.want {
			t.Errorf("Obfuscate(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzObfuscate checks that obfuscation never panics, never grows the statement and leaves no quoted literal.
func FuzzObfuscate(f *testing.F) {
	for _, s := range []string{"SELECT 'a' FROM t", "x'", "'''", "0x", "1e", "$", "/*", "--", "\\'", "E'\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Obfuscate(s)
		if len(got) > len(s) {
			t.Fatalf("Obfuscate(%q) = %q grew", s, got)
		}
		if !strings.Contains(s, "\"") && !strings.Contains(s, "`") && !strings.Contains(s, "--") && !strings.Contains(s, "/*") && strings.Contains(got, "'") {
			t.Fatalf("Obfuscate(%q) = %q keeps a quote", s, got)
		}
	})
}
