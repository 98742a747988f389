# %% 01.disk_change
# The first disk is far away and unchanged; the new disk turns on every pixel within 5 px.
answer = sum(1 for dr in range(-5, 6) for dc in range(-5, 6) if dr * dr + dc * dc <= 5 * 5)
