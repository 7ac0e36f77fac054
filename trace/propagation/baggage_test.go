package propagation

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

func TestParseBaggage(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]string
		props   map[string]string
		wantErr bool
	}{
		{in: "userId=alice,serverNode=DF%2028,isProduction=false", want: map[string]string{"userId": "alice", "serverNode": "DF 28", "isProduction": "false"}},
		{in: " a = 1 , b=2 ", want: map[string]string{"a": "1", "b": "2"}},
		{in: "k=v;ttl=30;public", want: map[string]string{"k": "v"}, props: map[string]string{"k": "ttl=30;public"}},
		{in: "k=v,k=w", want: map[string]string{"k": "w"}},
		{in: "k=", want: map[string]string{"k": ""}},
		{in: "utf8=%E2%9C%93", want: map[string]string{"utf8": "✓"}},
		{in: "k=v,,", want: map[string]string{"k": "v"}},
		{in: "=v", wantErr: true},
		{in: "k", wantErr: true},
		{in: "k=a b", wantErr: true},
		{in: "k=%ZZ", wantErr: true},
		{in: "k=%4", wantErr: true},
		{in: `k="quoted"`, wantErr: true},
		{in: "k=v;=x", wantErr: true},
		{in: "bad key=v", wantErr: true},
		{in: strings.Repeat("k=v,", 2100), wantErr: true},
	}
	for _, tt := range tests {
		b, err := ParseBaggage(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseBaggage(%.40q) error %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if b.Len() != len(tt.want) {
			t.Errorf("ParseBaggage(%q) has %d members, want %d", tt.in, b.Len(), len(tt.want))
		}
		for k, v := range tt.want {
			if got, ok := b.Get(k); !ok || got != v {
				t.Errorf("ParseBaggage(%q)[%q] = %q, want %q", tt.in, k, got, v)
			}
		}
		for _, m := range b.Members() {
			if m.Properties != tt.props[m.Key] {
				t.Errorf("ParseBaggage(%q)[%q] properties %q, want %q", tt.in, m.Key, m.Properties, tt.props[m.Key])
			}
		}
	}
}

func TestBaggageSetDeleteString(t *testing.T) {
	var b Baggage
	b, err := b.Set("user", "alice smith")
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := b.Set("tier", "gold,50%")
	if b.Len() != 1 || b2.Len() != 2 {
		t.Fatalf("Set changed the original: %d, %d", b.Len(), b2.Len())
	}
	if got, want := b2.String(), "user=alice%20smith,tier=gold%2C50%25"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if _, err := b2.Set("bad key", "x"); err == nil {
		t.Error("Set accepted a key with a space")
	}
	if b3 := b2.Delete("user"); b3.Len() != 1 || b2.Len() != 2 {
		t.Error("Delete did not return a copy without the key")
	}
}

func TestW3CBaggagePropagator(t *testing.T) {
	var b Baggage
	b, _ = b.Set("user", "alice")
	h := http.Header{}
	W3CBaggage{}.Inject(ContextWithBaggage(context.Background(), b), HeaderCarrier(h))
	if got := h.Get("Baggage"); got != "user=alice" {
		t.Fatalf("injected %q", got)
	}
	h.Add("Baggage", "tier=gold")
	got := BaggageFromContext(W3CBaggage{}.Extract(context.Background(), HeaderCarrier(h)))
	if v, _ := got.Get("tier"); v != "gold" || got.Len() != 2 {
		t.Errorf("repeated headers not joined: %v", got.Members())
	}

	before := ParseFailures().Baggage
	h = http.Header{"Baggage": {"k=%ZZ"}}
	if got := BaggageFromContext(W3CBaggage{}.Extract(context.Background(), HeaderCarrier(h))); got.Len() != 0 {
		t.Errorf("malformed baggage extracted: %v", got.Members())
	}
	if ParseFailures().Baggage != before+1 {
		t.Error("malformed baggage not counted")
	}
}
