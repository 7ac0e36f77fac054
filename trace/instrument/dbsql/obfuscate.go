package dbsql

import "strings"

// Obfuscate replaces the literal values in a SQL statement — quoted strings, numbers, hex and bit strings — with
// "?", so that the statement can be recorded without the data in it and statements differing only in values
// read the same. Identifiers (also "quoted" and `quoted` ones), keywords, placeholders ($1, ?, :name) and
// comments are kept. An unterminated string is replaced to the end.
func Obfuscate(query string) string {
	if !needsObfuscation(query) {
		return query
	}
	var b strings.Builder
	b.Grow(len(query))
	n := len(query)
	for i := 0; i < n; {
		c := query[i]
		switch {
		case c == '\'':
			i = skipQuoted(query, i+1, '\'')
			b.WriteByte('?')
		case (c == 'x' || c == 'X' || c == 'b' || c == 'B' || c == 'e' || c == 'E' || c == 'n' || c == 'N') &&
			i+1 < n && query[i+1] == '\'' && !identByte(prev(query, i)):
			i = skipQuoted(query, i+2, '\'')
			b.WriteByte('?')
		case c == '"' || c == '`':
			j := skipQuoted(query, i+1, c)
			b.WriteString(query[i:j])
			i = j
		case c == '-' && i+1 < n && query[i+1] == '-':
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				j = n - i
			}
			b.WriteString(query[i : i+j])
			i += j
		case c == '/' && i+1 < n && query[i+1] == '*':
			j := strings.Index(query[i+2:], "*/")
			if j < 0 {
				j = n
			} else {
				j = i + 2 + j + 2
			}
			b.WriteString(query[i:j])
			i = j
		case c == '$' && i+1 < n && isDigit(query[i+1]):
			// A positional placeholder: keep it.
			j := i + 1
			for j < n && isDigit(query[j]) {
				j++
			}
			b.WriteString(query[i:j])
			i = j
		case isDigit(c) || (c == '.' && i+1 < n && isDigit(query[i+1])):
			if identByte(prev(query, i)) {
				b.WriteByte(c)
				i++
				continue
			}
			if c == '0' && i+1 < n && (query[i+1] == 'x' || query[i+1] == 'X') {
				i += 2
				for i < n && isHex(query[i]) {
					i++
				}
			} else {
				for i < n && (isDigit(query[i]) || query[i] == '.') {
					i++
				}
				if i < n && (query[i] == 'e' || query[i] == 'E') {
					j := i + 1
					if j < n && (query[j] == '+' || query[j] == '-') {
						j++
					}
					if j < n && isDigit(query[j]) {
						for j < n && isDigit(query[j]) {
							j++
						}
						i = j
					}
				}
			}
			b.WriteByte('?')
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// needsObfuscation reports whether query has anything that might be a literal, so that the common
// placeholder-only statement is returned without copying.
func needsObfuscation(q string) bool {
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c == '\'' || (isDigit(c) && !identByte(prev(q, i)) && !(i > 0 && q[i-1] == '$')) {
			return true
		}
	}
	return false
}

// skipQuoted returns the index just past the closing quote of a literal starting at i (after its opening quote);
// a doubled quote is an escaped one, and so is a backslash-escaped one.
func skipQuoted(q string, i int, quote byte) int {
	for i < len(q) {
		switch q[i] {
		case '\\':
			i += 2
			continue
		case quote:
			if i+1 < len(q) && q[i+1] == quote {
				i += 2
				continue
			}
			return i + 1
		}
		i++
	}
	return len(q)
}

func prev(q string, i int) byte {
	if i == 0 {
		return ' '
	}
	return q[i-1]
}

func identByte(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }
