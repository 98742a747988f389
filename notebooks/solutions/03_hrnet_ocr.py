# %% 03.branches
def answer(height, width):
    def down(n):  # 3x3 convolution, stride 2, padding 1
        return (n + 2 - 3) // 2 + 1

    size = (down(down(height)), down(down(width)))
    sizes = [size]
    for _ in range(3):
        size = (down(size[0]), down(size[1]))
        sizes.append(size)
    return sizes
