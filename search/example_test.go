package search_test

import (
	"fmt"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/search"
)

func ExampleParse() {
	e, err := search.Parse(`service = checkout and (http.status_code >= 500 or status = error) and duration > 150ms`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e)

	span := &model.Span{
		Name:       "POST /pay",
		Duration:   320e6,
		StatusCode: model.StatusError,
		Resource:   &model.Resource{Service: "checkout"},
		Attrs:      []model.Attr{{Key: "http.status_code", Value: model.Int(502)}},
	}
	fmt.Println(e.Match(span))

	_, err = search.Parse(`duration > 100`)
	fmt.Println(err)
	// Output:
	// service = "checkout" AND (http.status_code >= 500 OR status = error) AND duration > 150ms
	// true
	// search: column 12: duration compares with a duration that has a unit, like 150ms, 2s or 1m30s; found "100"
}
