"""The Go that one of FerretDB's patches (`infra/ferretdb_patches.py`) adds to its `update`
handler: the statements of a command that name one document by a plain `_id` are written
together in one transaction, and whole-document compare-and-sets without reading the
stored document first (README, "Local infrastructure")."""

# Go added to msg_update.go by the patch that writes an update command's statements in one
# transaction (see `infra/ferretdb_patches.py`).
DEFERRED_UPDATES_GO = """\
// patched: deferredUpdates holds the documents of an update command's statements that
// name one document by a plain _id, to write them in one transaction.
type deferredUpdates struct {
	c    backends.Collection
	docs []*types.Document
	ids  map[string]struct{}
	// per document: the version a replacement expects (nil: written as it is), and the
	// statement to run as unpatched if the replacement was not made
	versions []any
	fast     []*common.Update
}

// target is the collection a statement writes to: one that defers its write if the
// statement names a document by a plain _id not yet deferred and does not upsert
// (later is true), else c itself, to be written at once after what is deferred.
func (d *deferredUpdates) target(
	c backends.Collection, u *common.Update,
) (backends.Collection, bool) {
	if u.Upsert || u.Filter == nil {
		return c, false
	}
	v, err := u.Filter.Get("_id")
	if err != nil {
		return c, false
	}
	var key string
	switch id := v.(type) {
	case string:
		key = "s" + id
	case types.ObjectID:
		key = "o" + string(id[:])
	default:
		return c, false
	}
	if _, seen := d.ids[key]; seen {
		return c, false
	}
	d.ids[key] = struct{}{}
	d.c = c
	return &deferringCollection{Collection: c, d: d}, true
}

// fastReplacement is the document a statement writes and the version it expects when
// the statement replaces one document named by a plain _id and an integer version
// (a compare-and-set: {_id, version} -> whole document). The SQLite backend then writes
// it with one conditional UPDATE, without reading and decoding the stored document.
func fastReplacement(u *common.Update) (*types.Document, int64, bool) {
	if !backends.ConditionalUpdates || u.HasUpdateOperators || u.Multi || u.Upsert ||
		u.Update == nil || u.Filter == nil || u.Filter.Len() != 2 {
		return nil, 0, false
	}
	id, err := u.Filter.Get("_id")
	if err != nil {
		return nil, 0, false
	}
	switch id.(type) {
	case string, types.ObjectID:
	default:
		return nil, 0, false
	}
	v, err := u.Filter.Get("version")
	if err != nil {
		return nil, 0, false
	}
	var version int64
	switch v := v.(type) {
	case int32:
		version = int64(v)
	case int64:
		version = v
	default:
		return nil, 0, false
	}
	doc := must.NotFail(types.NewDocument("_id", id))
	for _, key := range u.Update.Keys() {
		value := must.NotFail(u.Update.Get(key))
		if key == "_id" {
			if types.Compare(value, id) != types.Equal {
				return nil, 0, false
			}
			continue
		}
		doc.Set(key, value)
	}
	if doc.ValidateData() != nil {
		return nil, 0, false
	}
	return doc, version, true
}

// replace defers a fast replacement (see fastReplacement).
func (d *deferredUpdates) replace(
	c backends.Collection, doc *types.Document, version int64, u common.Update,
) {
	d.c = c
	d.docs = append(d.docs, doc)
	d.versions = append(d.versions, version)
	d.fast = append(d.fast, &u)
}

// flush writes what was deferred, in one transaction; a replacement not made there (its
// version moved, or it would change nothing) is run as unpatched. It returns the
// statements' matched and modified counts that the loop has not counted.
func (d *deferredUpdates) flush(ctx context.Context, pushdown bool) (int32, int32, error) {
	docs, versions, fast, c := d.docs, d.versions, d.fast, d.c
	d.docs, d.versions, d.fast, d.ids = nil, nil, nil, map[string]struct{}{}
	if len(docs) == 0 {
		return 0, 0, nil
	}
	params := &backends.UpdateAllParams{Docs: docs}
	for _, v := range versions {
		if v != nil {
			params.IfVersion = versions
			break
		}
	}
	res, err := c.UpdateAll(ctx, params)
	if err != nil {
		return 0, 0, err
	}
	var matched, modified int32
	for i, u := range fast {
		switch {
		case u == nil:
		case len(res.Each) == len(docs) && res.Each[i]:
			matched++
			modified++
		default:
			result, err := updateOne(ctx, c, u, pushdown)
			if err != nil {
				return matched, modified, err
			}
			matched += result.Matched.Count
			modified += result.Modified.Count
		}
	}
	return matched, modified, nil
}

// updateOne runs one statement as unpatched FerretDB does.
func updateOne(
	ctx context.Context, c backends.Collection, u *common.Update, pushdown bool,
) (*common.UpdateResult, error) {
	var qp backends.QueryParams
	if pushdown {
		qp.Filter = u.Filter
	}
	res, err := c.Query(ctx, &qp)
	if err != nil {
		return nil, lazyerrors.Error(err)
	}
	closer := iterator.NewMultiCloser()
	defer closer.Close()
	closer.Add(res.Iter)
	iter := common.FilterIterator(res.Iter, closer, u.Filter)
	if !u.Multi {
		iter = common.LimitIterator(iter, closer, 1)
	}
	return common.UpdateDocument(ctx, c, "update", iter, u)
}

// deferringCollection is a collection whose UpdateAll waits for deferredUpdates.flush.
type deferringCollection struct {
	backends.Collection
	d *deferredUpdates
}

// UpdateAll implements backends.Collection interface.
func (c *deferringCollection) UpdateAll(
	ctx context.Context, params *backends.UpdateAllParams,
) (*backends.UpdateAllResult, error) {
	for range params.Docs {
		c.d.versions = append(c.d.versions, nil)
		c.d.fast = append(c.d.fast, nil)
	}
	c.d.docs = append(c.d.docs, params.Docs...)
	return &backends.UpdateAllResult{Updated: int32(len(params.Docs))}, nil
}

"""
