"""The playground: ``einsdiff serve`` starts a page on localhost where a formula is typed and
its derivative, derivation, shape, einsum form and NumPy code are shown (extra ``web``)."""
