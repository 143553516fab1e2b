"""The parameter shapes of torchvision's ResNet-50, in its order (161
tensors, 25,557,032 float32 values): what benchmarks/model_sync_benchmark
moves. Kept equal to ResNet50Shapes() in benchmarks/model_shapes.h."""


def resnet50_shapes():
    shapes = []

    def conv_bn(out_channels, in_channels, kernel):
        shapes.append([out_channels, in_channels, kernel, kernel])
        shapes.append([out_channels])  # Batch norm's weight ...
        shapes.append([out_channels])  # ... and bias.

    conv_bn(64, 3, 7)
    in_channels = 64
    for planes, blocks in ((64, 3), (128, 4), (256, 6), (512, 3)):
        for block in range(blocks):
            conv_bn(planes, in_channels, 1)
            conv_bn(planes, planes, 3)
            conv_bn(planes * 4, planes, 1)
            if block == 0:
                conv_bn(planes * 4, in_channels, 1)  # Downsample.
            in_channels = planes * 4
    shapes.append([1000, 2048])
    shapes.append([1000])
    return shapes


if __name__ == "__main__":
    import math
    s = resnet50_shapes()
    print(len(s), sum(math.prod(x) for x in s))
