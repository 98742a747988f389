# %% 10.samples
answer = 230 * 30_000  # epochs x epoch_len of hrnet18_cocolvis_itermask
