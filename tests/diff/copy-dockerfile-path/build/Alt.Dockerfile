FROM @BASE@
COPY sub /from-alt
