"""Learned building blocks: VQ bits and loss, Gumbel selection and the FSM, the monotone noise
net, top-B importance masks, Transformer layers with task tokens/queries and masked attention."""
import numpy as np
import pytest
import tensorflow as tf
import keras

from linksim.systems.learned.layers import importance, masks, quantizers, selection, transformer


@pytest.fixture(autouse=True)
def seeded():
    keras.utils.set_random_seed(3)


# --- VQ codebook ---------------------------------------------------------------------------

@pytest.mark.parametrize("size", [2, 16, 1024])
def test_index_bits_round_trip_is_fixed_width_msb_first(size):
    vq = quantizers.VectorQuantizer(num_codewords=size, dim=3)
    indices = tf.constant(np.random.default_rng(0).integers(0, size, (4, 5)), tf.int32)
    bits = vq.to_bits(indices)
    assert bits.shape == (4, 5 * vq.bits_per_index)
    np.testing.assert_array_equal(vq.from_bits(bits), indices)
    # index 1 of the widest codebook: bits_per_index - 1 zeros, then a one
    one = quantizers.indices_to_bits(tf.constant([[1]]), bits_per_index=vq.bits_per_index)
    np.testing.assert_array_equal(one[0], [0.0] * (vq.bits_per_index - 1) + [1.0])
    # soft bits are decided at 0.5
    np.testing.assert_array_equal(vq.from_bits(0.2 + 0.6 * bits), indices)


def test_vq_loss_is_eq23_and_gradients_reach_encoder_and_codebook():
    vq = quantizers.VectorQuantizer(num_codewords=8, dim=2, commitment=0.5)
    z = tf.Variable(tf.random.normal([3, 4, 2]))
    with tf.GradientTape(persistent=True) as tape:
        values, indices, loss = vq.quantize_with_loss(z)
        task = tf.reduce_sum(values ** 2)
    e = tf.gather(vq.codebook, indices)
    np.testing.assert_allclose(loss, 1.5 * np.mean((z.numpy() - e.numpy()) ** 2), rtol=1e-5)
    np.testing.assert_allclose(values, e, atol=1e-6)
    assert float(tf.reduce_max(tf.abs(tape.gradient(task, z)))) > 0     # straight-through
    assert float(tf.reduce_max(tf.abs(tape.gradient(loss, vq.codebook)))) > 0
    # masked: only the kept vectors count
    keep = tf.constant([[1.0, 0, 0, 0]] * 3)
    _, _, masked = vq.quantize_with_loss(z, keep)
    per_vector = 1.5 * np.mean((z.numpy() - e.numpy()) ** 2, axis=-1)
    np.testing.assert_allclose(masked, per_vector[:, 0].mean(), rtol=1e-5)
    # calling the layer adds the same loss
    vq(z)
    np.testing.assert_allclose(vq.losses[0], loss, rtol=1e-6)


# --- Gumbel selection and the FSM ----------------------------------------------------------

def test_gumbel_selection_is_hard_hierarchical_and_straight_through():
    gumbel = selection.GumbelSelection(temperature=0.5)
    logits = tf.Variable(tf.random.normal([4, 50, 2]))
    previous = tf.constant(np.random.default_rng(1).integers(0, 2, (4, 50)), tf.float32)
    with tf.GradientTape() as tape:
        mask = gumbel(logits, previous, training=True)
        objective = tf.reduce_sum(mask * tf.range(50, dtype=tf.float32))
    assert set(np.unique(mask.numpy())) <= {0.0, 1.0}
    assert np.all(mask.numpy() <= previous.numpy())                  # dropped stays dropped
    assert float(tf.reduce_max(tf.abs(tape.gradient(objective, logits)))) > 0
    # inference: keep exactly where p_keep >= p_drop, no noise
    inference = gumbel(logits, previous, training=False).numpy()
    expected = previous.numpy() * (logits.numpy()[..., 0] >= logits.numpy()[..., 1])
    np.testing.assert_array_equal(inference, expected)


def test_fsm_masks_nest_over_stages_and_train_by_straight_through():
    fsm1 = selection.FeatureSelection(units=8, temperature=1.0)
    fsm2 = selection.FeatureSelection(units=8, temperature=1.0)
    features = tf.random.normal([3, 10, 16])
    ones = tf.ones([3, 10])
    noise = tf.constant([0.1, 1.0, 4.0])
    with tf.GradientTape() as tape:
        m1, p1 = fsm1(features, ones, noise, training=True)
        m2, _ = fsm2(features, m1, noise, training=True)
        loss = tf.reduce_mean(m2)
    assert m1.shape == m2.shape == p1.shape == (3, 10)
    assert np.all(m2.numpy() <= m1.numpy())
    assert np.all((p1.numpy() > 0) & (p1.numpy() < 1))
    grads = tape.gradient(loss, fsm1.trainable_weights + fsm2.trainable_weights)
    assert all(g is not None for g in grads)
    assert any(float(tf.reduce_max(tf.abs(g))) > 0 for g in grads[:len(fsm1.trainable_weights)])
    # the global feature pools only kept vectors: a dropped vector's value does not matter
    m_inf, p_inf = fsm2(features, m1, noise, training=False)
    dropped = tf.cast(m1 == 0, tf.float32)[..., tf.newaxis]
    _, p_changed = fsm2(features + 100.0 * dropped, m1, noise, training=False)
    kept = m1.numpy() > 0
    np.testing.assert_allclose(p_changed.numpy()[kept], p_inf.numpy()[kept], atol=1e-5)


# --- the monotone noise net ----------------------------------------------------------------

def test_ratio_net_is_monotone_and_in_unit_interval():
    ratio = masks.NoiseEncoder(num_outputs=1, hidden_units=(16, 16), initial_sum=1.0,
                               use_bias=False)
    sigma2 = tf.constant(np.logspace(-3, 1, 40), tf.float32)
    delta = ratio(sigma2).numpy()[:, 0]
    assert delta.shape == (40,) and not ratio.biases
    assert np.all(np.diff(delta) >= 0) and delta[-1] > delta[0]
    assert np.all((delta >= 0) & (delta < 1))
    # training cannot break it: arbitrary (negative) raw weights stay monotone through abs
    for kernel in ratio.kernels:
        kernel.assign(tf.random.normal(kernel.shape))
    assert np.all(np.diff(ratio(sigma2).numpy()[:, 0]) >= 0)
    assert float(ratio(tf.zeros([1]))[0, 0]) == 0.0                 # no bias: delta(0) = 0


def test_noise_encoder_without_use_bias_key_loads_as_amijscc():
    encoder = masks.NoiseEncoder.from_config({"num_outputs": 4, "hidden_units": [8]})
    encoder(tf.ones([2]))
    assert encoder.use_bias and len(encoder.biases) == 2


# --- top-B importance masks ----------------------------------------------------------------

def test_top_b_mask_keeps_the_b_best_per_sample():
    scores = tf.constant([[0.1, 0.9, 0.5, 0.7], [4.0, 3.0, 2.0, 1.0]])
    np.testing.assert_array_equal(importance.top_b_mask(scores, 2), [[0, 1, 0, 1], [1, 1, 0, 0]])
    np.testing.assert_array_equal(importance.top_b_mask(scores, tf.constant([1, 3])),
                                  [[0, 1, 0, 0], [1, 1, 1, 0]])
    ties = importance.top_b_mask(tf.zeros([1, 5]), 2)
    np.testing.assert_array_equal(ties, [[1, 1, 0, 0, 0]])
    assert importance.top_b_mask(scores, 0).numpy().sum() == 0
    assert importance.top_b_mask(scores, 9).numpy().sum() == 8


def test_feature_budget_is_capacity_bits_over_64():
    assert importance.feature_budget(0.0, channel_uses=640) == 10           # log2(2) = 1
    assert importance.feature_budget(-30.0, channel_uses=64) == 0
    assert importance.feature_budget(10.0, channel_uses=64) == int(np.log2(11.0))


# --- Transformer layers --------------------------------------------------------------------

@pytest.mark.parametrize("norm", ["pre", "post"])
@pytest.mark.parametrize("scale", ["head_dim", "model_dim"])
def test_encoder_layer_shapes_and_key_mask(norm, scale):
    layer = transformer.TransformerEncoderLayer(dim=16, num_heads=4, mlp_units=32, norm=norm,
                                                scale=scale)
    x = tf.random.normal([2, 6, 16])
    mask = tf.constant([[1, 1, 1, 0, 0, 1], [1, 1, 1, 1, 1, 1]], tf.float32)
    y = layer(x, mask)
    assert y.shape == (2, 6, 16)
    # changing a masked vector changes no kept output
    noise = tf.constant(50.0 * np.random.default_rng(2).normal(size=(2, 6, 16)), tf.float32)
    y2 = layer(x + noise * (1.0 - mask)[..., None], mask)
    kept = mask.numpy() > 0
    np.testing.assert_allclose(y2.numpy()[kept], y.numpy()[kept], atol=1e-4)


def test_attention_scale_is_the_papers():
    x = tf.random.normal([1, 3, 8])
    heads = transformer.Attention(dim=8, num_heads=2, scale="head_dim")
    model = transformer.Attention(dim=8, num_heads=2, scale="model_dim")
    heads(x, x)
    model(x, x)
    model.set_weights(heads.get_weights())
    assert heads.factor == pytest.approx(0.5) and model.factor == pytest.approx(8 ** -0.5)
    assert not np.allclose(heads(x, x), model(x, x))
    # and the computation is softmax(Q K^T * factor) V, head by head
    q, k, v = (d(x).numpy().reshape(3, 2, 4) for d in (model.query_dense, model.key_dense,
                                                       model.value_dense))
    s = np.einsum("qhd,khd->hqk", q, k) * 8 ** -0.5
    w = np.exp(s - s.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    heads_out = np.einsum("hqk,khd->qhd", w, v).reshape(3, 8)
    expected = heads_out @ model.output_dense.kernel.numpy() + model.output_dense.bias.numpy()
    np.testing.assert_allclose(model(x, x)[0], expected, atol=1e-5)


def test_masked_cross_attention_ignores_masked_memory_and_passes_mask_gradient():
    layer = transformer.TransformerDecoderLayer(dim=16, num_heads=2, mlp_units=32,
                                                scale="model_dim")
    queries = tf.random.normal([2, 3, 16])
    memory = tf.random.normal([2, 7, 16])
    mask = tf.Variable([[1, 0, 1, 1, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1]], dtype=tf.float32)
    with tf.GradientTape() as tape:
        y = layer(queries, memory, mask)
        objective = tf.reduce_sum(y ** 2)
    assert y.shape == (2, 3, 16)
    assert float(tf.reduce_max(tf.abs(tape.gradient(objective, mask)))) > 0   # Eq. 32
    changed = memory + 1e3 * tf.random.normal(memory.shape) * (1.0 - mask)[..., None]
    np.testing.assert_allclose(layer(queries, changed, mask), y, atol=1e-4)
    # without the mask the same change does matter
    assert not np.allclose(layer(queries, changed), layer(queries, memory), atol=1e-3)


def test_task_tokens_and_queries_pick_the_task_row():
    tokens = transformer.TaskTokens(num_tasks=3, dim=4, position="append")
    queries = transformer.TaskQueries(num_tasks=3, num_queries=5, dim=4)
    x = tf.random.normal([2, 6, 4])
    task = tf.constant([2, 0])
    joined = tokens(x, task)
    assert joined.shape == (2, 7, 4)
    np.testing.assert_allclose(joined[:, :6], x)
    np.testing.assert_allclose(joined[:, 6], tf.gather(tokens.tokens, task))
    q = queries(task)
    assert q.shape == (2, 5, 4)
    np.testing.assert_allclose(q[1], queries.queries[0])
    first = transformer.TaskTokens(num_tasks=3, dim=4)(x, task)
    np.testing.assert_allclose(first[:, 1:], x)


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="multiple"):
        transformer.Attention(dim=10, num_heads=4)
    with pytest.raises(ValueError, match="scale"):
        transformer.Attention(dim=8, num_heads=2, scale="sqrt")
    with pytest.raises(ValueError, match="norm"):
        transformer.TransformerEncoderLayer(dim=8, num_heads=2, mlp_units=8, norm="middle")
    with pytest.raises(ValueError, match="temperature"):
        selection.GumbelSelection(temperature=0.0)


# --- all of them in one saved model ----------------------------------------------------------

def test_tiny_model_of_every_block_saves_and_loads(tmp_path):
    features = keras.Input((6, 8), name="features")
    task = keras.Input((), dtype="int32", name="task")
    noise = keras.Input((), name="noise")
    x = transformer.TaskTokens(num_tasks=2, dim=8)(features, task)
    x = transformer.TransformerEncoderLayer(dim=8, num_heads=2, mlp_units=16,
                                            scale="model_dim")(x)
    ones = keras.ops.ones_like(x[..., 0])
    mask, _ = selection.FeatureSelection(units=4)(x, ones, noise)
    delta = masks.NoiseEncoder(num_outputs=1, hidden_units=(4,), use_bias=False)(noise)
    codes = quantizers.VectorQuantizer(num_codewords=4, dim=8)(x)
    q = transformer.TaskQueries(num_tasks=2, num_queries=3, dim=8)(task)
    y = transformer.TransformerDecoderLayer(dim=8, num_heads=2, mlp_units=16, norm="post")(
        q, codes, mask)
    model = keras.Model([features, task, noise], [y, delta])
    inputs = [tf.random.normal([2, 6, 8]), tf.constant([0, 1]), tf.constant([0.5, 2.0])]
    before = model(inputs)
    path = tmp_path / "tiny.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    for a, b in zip(before, loaded(inputs)):
        np.testing.assert_allclose(a, b, atol=1e-6)
