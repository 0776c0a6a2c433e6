// Weight-stationary systolic GEMM core: ROWS x COLS PEs; PE(r,j) holds B[k0+r][n0+j]
// in one of two weight banks, partial sums flow down the columns, and a buffer of
// ACC_ROWS C rows below the array accumulates over the K tiles.
//
// Streams (transfer when valid && ready):
//   B beat = one row of a B tile, lane j = B[k0+r][n0+j]  (COLS x IN_W, signed);
//            rk = min(ROWS, K-k0) beats load one weight tile.
//   A beat = one row slice,       lane r = A[m][k0+r]     (ROWS x IN_W, signed)
//   C beat = one row of a C tile, lane j = C[m][n0+j]     (COLS x ACC_W)
//   Tile order (loader and feeder alike):
//     for n0 (step COLS) { for m0 (step ACC_ROWS) { for k0 (step ROWS) {
//       B rows k0..k0+rk-1; A rows m0..m0+mb-1 } } },  mb = min(ACC_ROWS, M-m0).
//   C rows m0..m0+mb-1 leave after the last k0 of each (n0, m0) block.
//   Lanes beyond K or N are don't-care on input; C lanes beyond N are zero.
// Schedule: the loader fills weight tile t into bank t%2 while tile t-1 computes from
// the other bank; it may start tile t once the feeder has sent the last A beat of tile
// t-2, and the feeder starts tile t once all its B beats are in. Weights are written
// along the same diagonal wavefront as the data, so neither side waits for the array
// to empty. Stalls: the datapath advances only when the C output register is free or
// being read (adv); missing A/B beats become bubbles.
module systolic_gemm_ws #(
    parameter int ROWS     = 4,
    parameter int COLS     = 4,
    parameter int IN_W     = 8,
    parameter int ACC_W    = 32,
    parameter int DIM_W    = 16,
    parameter int ACC_ROWS = 32
) (
    input  logic                    clk,
    input  logic                    rst_n,
    input  logic                    cfg_valid,
    output logic                    cfg_ready,
    input  logic [DIM_W-1:0]        cfg_m,
    input  logic [DIM_W-1:0]        cfg_k,
    input  logic [DIM_W-1:0]        cfg_n,
    input  logic                    a_valid,
    output logic                    a_ready,
    input  logic [ROWS*IN_W-1:0]    a_data,
    input  logic                    b_valid,
    output logic                    b_ready,
    input  logic [COLS*IN_W-1:0]    b_data,
    output logic                    c_valid,
    input  logic                    c_ready,
    output logic [COLS*ACC_W-1:0]   c_data,
    output logic                    c_last
);
  localparam int XW = DIM_W + 1;
  localparam int MLW = (ACC_ROWS > 1) ? $clog2(ACC_ROWS) : 1;
  localparam int RW = (ROWS > 1) ? $clog2(ROWS) : 1;
  localparam int TAG_DEPTH = ROWS + COLS;

  typedef struct packed {
    logic v;          // a real wave
    logic first_k;    // first K tile: start the sum
    logic last_k;     // last K tile: send the row out
    logic fin;        // last C row of the GEMM
    logic [MLW-1:0] ml;  // row inside the M block
  } tag_t;

  logic busy, adv;
  logic [DIM_W-1:0] m_q, k_q, n_q;
  logic o_valid, o_last;
  logic [COLS*ACC_W-1:0] o_data;
  logic [1:0] ahead;  // weight tiles loaded minus weight tiles fed (0..2)

  assign adv = !o_valid || c_ready;
  assign cfg_ready = !busy;

  // ---------------- loader (B) ----------------
  logic l_act, l_par;
  logic [XW-1:0] l_n0, l_m0, l_k0;
  logic [RW-1:0] l_r;
  wire l_can = adv && l_act && (ahead != 2'd2);
  assign b_ready = l_can;
  wire b_fire = l_can && b_valid;
  wire l_last_k = (l_k0 + XW'(ROWS)) >= {1'b0, k_q};
  wire l_last_m = (l_m0 + XW'(ACC_ROWS)) >= {1'b0, m_q};
  wire l_last_n = (l_n0 + XW'(COLS)) >= {1'b0, n_q};
  wire l_row_end = (l_r == RW'(ROWS - 1)) || ((l_k0 + XW'(l_r) + 1'b1) >= {1'b0, k_q});
  wire l_tile_done = b_fire && l_row_end;

  // ---------------- feeder (A) ----------------
  logic f_act, f_par;
  logic [XW-1:0] f_n0, f_m0, f_k0;
  logic [MLW-1:0] f_ml;
  wire f_can = adv && f_act && (ahead != 2'd0);
  assign a_ready = f_can;
  wire a_fire = f_can && a_valid;
  wire f_last_k = ((f_k0 + XW'(ROWS)) >= {1'b0, k_q});
  wire f_last_m = (f_m0 + XW'(ACC_ROWS)) >= {1'b0, m_q};
  wire f_last_n = (f_n0 + XW'(COLS)) >= {1'b0, n_q};
  wire f_row_end = (f_ml == MLW'(ACC_ROWS - 1)) || ((f_m0 + XW'(f_ml) + 1'b1) >= {1'b0, m_q});
  wire f_tile_done = a_fire && f_row_end;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      busy <= 1'b0;
      l_act <= 1'b0; f_act <= 1'b0; ahead <= 2'd0;
      m_q <= '0; k_q <= '0; n_q <= '0;
      l_par <= 1'b0; l_n0 <= '0; l_m0 <= '0; l_k0 <= '0; l_r <= '0;
      f_par <= 1'b0; f_n0 <= '0; f_m0 <= '0; f_k0 <= '0; f_ml <= '0;
    end else if (cfg_valid && cfg_ready) begin
      busy <= 1'b1;
      l_act <= 1'b1; f_act <= 1'b1; ahead <= 2'd0;
      m_q <= cfg_m; k_q <= cfg_k; n_q <= cfg_n;
      l_par <= 1'b0; l_n0 <= '0; l_m0 <= '0; l_k0 <= '0; l_r <= '0;
      f_par <= 1'b0; f_n0 <= '0; f_m0 <= '0; f_k0 <= '0; f_ml <= '0;
    end else begin
      if (c_valid && c_ready && c_last) busy <= 1'b0;
      ahead <= ahead + {1'b0, l_tile_done} - {1'b0, f_tile_done};
      if (b_fire) begin
        if (!l_row_end) begin
          l_r <= l_r + 1'b1;
        end else begin
          l_r <= '0;
          l_par <= !l_par;
          if (!l_last_k) begin
            l_k0 <= l_k0 + XW'(ROWS);
          end else begin
            l_k0 <= '0;
            if (!l_last_m) begin
              l_m0 <= l_m0 + XW'(ACC_ROWS);
            end else begin
              l_m0 <= '0;
              if (!l_last_n) l_n0 <= l_n0 + XW'(COLS);
              else l_act <= 1'b0;
            end
          end
        end
      end
      if (a_fire) begin
        if (!f_row_end) begin
          f_ml <= f_ml + 1'b1;
        end else begin
          f_ml <= '0;
          f_par <= !f_par;
          if (!f_last_k) begin
            f_k0 <= f_k0 + XW'(ROWS);
          end else begin
            f_k0 <= '0;
            if (!f_last_m) begin
              f_m0 <= f_m0 + XW'(ACC_ROWS);
            end else begin
              f_m0 <= '0;
              if (!f_last_n) f_n0 <= f_n0 + XW'(COLS);
              else f_act <= 1'b0;
            end
          end
        end
      end
    end
  end

  // ---------------- injection ----------------
  tag_t tag_in;
  logic [ROWS-1:0][IN_W-1:0] a_masked;
  logic [COLS-1:0][IN_W-1:0] b_masked;
  logic [ROWS-1:0] we_in;
  always_comb begin
    tag_in.v = a_fire;
    tag_in.first_k = (f_k0 == '0);
    tag_in.last_k = f_last_k;
    tag_in.fin = f_last_k && f_last_m && f_last_n && f_row_end;
    tag_in.ml = f_ml;
    for (int r = 0; r < ROWS; r++) begin
      a_masked[r] = ((f_k0 + XW'(r)) < {1'b0, k_q}) ? a_data[r*IN_W +: IN_W] : '0;
      we_in[r] = b_fire && (l_r == RW'(r));
    end
    for (int j = 0; j < COLS; j++) begin
      b_masked[j] = ((l_n0 + XW'(j)) < {1'b0, n_q}) ? b_data[j*IN_W +: IN_W] : '0;
    end
  end

  // A lane r (with its bank bit) is delayed r cycles; B lane j is delayed j+1 cycles and
  // broadcast down column j; a write token {we, bank} enters row r at column 0 and moves
  // right one column per cycle, so PE(r,j) takes its weight on the data's diagonal.
  localparam int AW = IN_W + 1;
  logic [ROWS-1:0][AW-1:0] a_skewed;
  logic [COLS-1:0][IN_W-1:0] col_bus;

  for (genvar r = 0; r < ROWS; r++) begin : g_askew
    wire [AW-1:0] a_word = {f_par, a_masked[r]};
    if (r == 0) begin : g_none
      assign a_skewed[r] = a_word;
    end else begin : g_sr
      logic [AW-1:0] sr [r];
      always_ff @(posedge clk) begin
        if (adv) begin
          sr[0] <= a_word;
          for (int d = 1; d < r; d++) sr[d] <= sr[d-1];
        end
      end
      assign a_skewed[r] = sr[r-1];
    end
  end

  for (genvar j = 0; j < COLS; j++) begin : g_bskew
    logic [IN_W-1:0] sr [j+1];
    always_ff @(posedge clk) begin
      if (adv) begin
        sr[0] <= b_masked[j];
        for (int d = 1; d <= j; d++) sr[d] <= sr[d-1];
      end
    end
    assign col_bus[j] = sr[j];
  end

  // ---------------- PE array ----------------
  logic [AW-1:0]    a_pipe [ROWS][COLS];
  logic [1:0]       w_tok  [ROWS][COLS];  // {we, bank}
  logic [IN_W-1:0]  w0     [ROWS][COLS];
  logic [IN_W-1:0]  w1     [ROWS][COLS];
  logic [ACC_W-1:0] psum   [ROWS][COLS];

  for (genvar r = 0; r < ROWS; r++) begin : g_row
    for (genvar j = 0; j < COLS; j++) begin : g_col
      wire bank = a_pipe[r][j][IN_W];
      wire [IN_W-1:0] w = bank ? w1[r][j] : w0[r][j];
      logic signed [2*IN_W-1:0] prod;
      logic [ACC_W-1:0] prod_x, psum_in;
      assign prod = $signed(a_pipe[r][j][IN_W-1:0]) * $signed(w);
      assign prod_x = {{(ACC_W-2*IN_W){prod[2*IN_W-1]}}, prod};
      assign psum_in = (r == 0) ? '0 : psum[(r+ROWS-1)%ROWS][j];

      always_ff @(posedge clk) begin
        if (!rst_n) begin
          w_tok[r][j] <= '0;
        end else if (adv) begin
          w_tok[r][j] <= (j == 0) ? {we_in[r], l_par} : w_tok[r][(j+COLS-1)%COLS];
        end
      end
      always_ff @(posedge clk) begin
        if (adv) begin
          a_pipe[r][j] <= (j == 0) ? a_skewed[r] : a_pipe[r][(j+COLS-1)%COLS];
          psum[r][j] <= psum_in + prod_x;
          if (w_tok[r][j][1] && !w_tok[r][j][0]) w0[r][j] <= col_bus[j];
          if (w_tok[r][j][1] && w_tok[r][j][0]) w1[r][j] <= col_bus[j];
        end
      end
    end
  end

  // ---------------- deskew, tag delay, accumulation ----------------
  logic [COLS-1:0][ACC_W-1:0] psum_row;
  for (genvar j = 0; j < COLS; j++) begin : g_deskew
    if (j == COLS - 1) begin : g_none
      assign psum_row[j] = psum[ROWS-1][j];
    end else begin : g_sr
      localparam int D = COLS - 1 - j;
      logic [ACC_W-1:0] sr [D];
      always_ff @(posedge clk) begin
        if (adv) begin
          sr[0] <= psum[ROWS-1][j];
          for (int d = 1; d < D; d++) sr[d] <= sr[d-1];
        end
      end
      assign psum_row[j] = sr[D-1];
    end
  end

  tag_t tag_pipe [TAG_DEPTH];
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      for (int d = 0; d < TAG_DEPTH; d++) tag_pipe[d] <= '0;
    end else if (adv) begin
      tag_pipe[0] <= tag_in;
      for (int d = 1; d < TAG_DEPTH; d++) tag_pipe[d] <= tag_pipe[d-1];
    end
  end

  tag_t t_out;
  assign t_out = tag_pipe[TAG_DEPTH-1];
  logic [COLS-1:0][ACC_W-1:0] acc_buf [ACC_ROWS];
  logic [COLS-1:0][ACC_W-1:0] sum_row;
  always_comb begin
    for (int j = 0; j < COLS; j++) begin
      sum_row[j] = t_out.first_k ? psum_row[j] : acc_buf[t_out.ml][j] + psum_row[j];
    end
  end

  always_ff @(posedge clk) begin
    if (adv && t_out.v && !t_out.last_k) acc_buf[t_out.ml] <= sum_row;
    if (adv) o_data <= sum_row;
  end
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      o_valid <= 1'b0;
      o_last <= 1'b0;
    end else if (adv) begin
      o_valid <= t_out.v && t_out.last_k;
      o_last <= t_out.v && t_out.fin;
    end
  end

  assign c_valid = o_valid;
  assign c_data = o_data;
  assign c_last = o_last;
endmodule
