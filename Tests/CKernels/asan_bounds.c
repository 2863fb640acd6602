// The convolution kernels (Sources/CKernels) on exact-size buffers under AddressSanitizer: each
// entry point gets exactly the floats the Swift side allocates for it (ConvKernels.swift: the
// padded input of tb_padded_width, the 1x1 planes and tail buffer, the zero-bordered copy, the
// strided kernel's unpadded input and work buffer, Winograd's bordered input and work buffer,
// recomputed here by the same formulas), so a read or write past them is reported. Values are not
// checked here (DirectKernelTests does that against PyTorch and a naive convolution), except that
// the strided kernel must give im2col + tb_gemm_panel's bits, the AVX-512 loops AVX2's bits, and the
// bordered copy must hold the input where it belongs. Run by scripts/kernels-asan.
#include "CKernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
static float frand(unsigned *s){*s=*s*1664525u+1013904223u;return ((*s>>8)/16777216.0f)-0.5f;}
static float *buf(size_t n, unsigned *s){float *p=malloc(n*sizeof(float)); for(size_t i=0;i<n;i++)p[i]=frand(s); return p;}
int main(void){
  unsigned seed=7; int paths[3], np=0; paths[np++]=TB_KERNELS_PORTABLE;
  if(tb_kernels_available(TB_KERNELS_AVX2)) paths[np++]=TB_KERNELS_AVX2;
  if(tb_kernels_available(TB_KERNELS_AVX512)) paths[np++]=TB_KERNELS_AVX512;
  else printf("kernels-asan: avx512 path skipped (this processor has no AVX-512 F, VL and DQ)\n");
  for(int pi=0;pi<np;pi++){ tb_kernels k=(tb_kernels)paths[pi];
    // 3x3 stride 1 pad 1
    int s3[][4]={{3,1,5,7},{5,5,1,1},{4,7,8,8},{6,13,9,17},{17,6,20,9},{2,12,3,20},{8,8,7,7},{3,9,2,8},{5,8,5,40},{7,6,3,57},{4,13,7,15},{3,7,2,32},{2,5,3,48}};
    for(unsigned t=0;t<sizeof s3/sizeof s3[0];t++){int cin=s3[t][0],cout=s3[t][1],h=s3[t][2],w=s3[t][3];
      int xw=tb_padded_width(w,3),xh=h+2; float *xp=buf((size_t)cin*xh*xw,&seed),*wt=buf((size_t)cout*cin*9,&seed),*b=buf(cout,&seed);
      float *pk=malloc(tb_packed_size(cout,cin*9)*sizeof(float)); tb_pack_weights(wt,cout,cin*9,pk);
      float *y=malloc((size_t)cout*h*w*sizeof(float));
      tb_conv_direct(k,xp,cin,xh,xw,pk,b,cout,3,3,y,h,w,0,h,0,(cout+5)/6,TB_ACT_SILU);
      // row split too
      if(h>2){tb_conv_direct(k,xp,cin,xh,xw,pk,b,cout,3,3,y,h,w,1,2,0,(cout+5)/6,TB_ACT_RELU);}
      free(xp);free(wt);free(b);free(pk);free(y);}
    // 1x1
    int s1[][3]={{3,7,1},{9,5,15},{16,13,17},{300,8,300},{7,19,300},{1,1,16},{2,3,33},{5,7,48},{4,6,57},{3,13,64},{64,255,400}};
    for(unsigned t=0;t<sizeof s1/sizeof s1[0];t++){int cin=s1[t][0],cout=s1[t][1],n=s1[t][2];
      float *x=buf((size_t)cin*n,&seed),*wt=buf((size_t)cout*cin,&seed); float *pk=malloc(tb_packed_size(cout,cin)*sizeof(float)); tb_pack_weights(wt,cout,cin,pk);
      float *y=malloc((size_t)cout*n*sizeof(float));
      float *tail=cin>256? malloc((size_t)cin*TB_TILE*sizeof(float)) : NULL;
      tb_gemm_panel(k,x,cin,n,pk,NULL,cout,y,(size_t)n,0,n,0,(cout+5)/6,TB_ACT_SIGMOID,0,tail);
      // the same product with streaming stores, into an output of 64-byte aligned planes (so that they run), the
      // same bits
      size_t ap=((size_t)n+15)/16*16; float *ys=aligned_alloc(64,(size_t)cout*ap*sizeof(float)+64);
      tb_gemm_panel(k,x,cin,n,pk,NULL,cout,ys,ap,0,n,0,(cout+5)/6,TB_ACT_SIGMOID,1,tail);
      for(int c=0;c<cout;c++) if(memcmp(y+(size_t)c*n,ys+(size_t)c*ap,(size_t)n*sizeof(float))){fprintf(stderr,"streaming stores: other bits (1x1 shape %u)\n",t);return 1;}
      free(ys);
      if(n>16) tb_gemm_panel(k,x,cin,n,pk,NULL,cout,y,(size_t)n,16,n,0,(cout+5)/6,TB_ACT_NONE,0,tail);
      free(x);free(wt);free(pk);free(y);free(tail);}
    // a GEMM panel (im2col band) whose products land in larger output planes: the last band of a
    // map, y at its first position, so the last plane ends exactly at the buffer's end
    int sp[][4]={{45,7,20,53},{300,8,17,40},{27,13,16,16},{9,6,1,9}};
    for(unsigned t=0;t<sizeof sp/sizeof sp[0];t++){int kd=sp[t][0],cout=sp[t][1],n=sp[t][2],plane=sp[t][3];
      float *x=buf((size_t)kd*n,&seed),*wt=buf((size_t)cout*kd,&seed),*b=buf(cout,&seed); float *pk=malloc(tb_packed_size(cout,kd)*sizeof(float)); tb_pack_weights(wt,cout,kd,pk);
      float *y=malloc((size_t)cout*plane*sizeof(float));
      float *tail=kd>256? malloc((size_t)kd*TB_TILE*sizeof(float)) : NULL;
      tb_gemm_panel(k,x,kd,n,pk,b,cout,y+(plane-n),(size_t)plane,0,n,0,(cout+5)/6,TB_ACT_SILU,0,tail);
      free(x);free(wt);free(b);free(pk);free(y);free(tail);}
    // the strided kernel: the unpadded input, the output planes and the work buffer of
    // tb_strided_work_floats, exactly; whole ranges and split ones (positions from the middle of a
    // tile, one block of several). Its outputs must equal im2col + tb_gemm_panel's bit for bit (the
    // same sums in the same order), and a split range's must equal the whole range's.
    int st[][8]={{5,7,14,14,3,2,2,1},{6,13,15,33,3,2,2,1},{3,16,21,19,6,2,2,2},{3,8,17,15,7,2,2,3},{8,9,9,9,1,2,2,0},
                 {4,5,7,12,3,1,1,0},{2,6,1,3,3,2,2,1},{3,40,14,14,3,2,2,1},{300,20,5,7,3,2,2,1},{4,17,12,10,3,2,1,1},{2,3,11,8,5,3,3,2},
                 {4,20,7,131,3,2,2,1},{3,16,9,141,6,2,2,2},{40,33,5,160,3,2,2,1},
                 {3,8,9,224,7,2,2,3},{4,9,5,129,3,2,2,0},{6,17,5,159,3,2,2,1}};   // the last six: AVX-512's phase path (outputs 64 or more wide:
                 // the 7x7 stem at 224, no padding and exactly 64 wide, a row's last tile of exactly 16)
    for(unsigned t=0;t<sizeof st/sizeof st[0];t++){int cin=st[t][0],cout=st[t][1],h=st[t][2],w=st[t][3],kk=st[t][4],sy=st[t][5],sx=st[t][6],p=st[t][7];
      int oh=(h+2*p-kk)/sy+1, ow=(w+2*p-kk)/sx+1, n=oh*ow, kd=cin*kk*kk, blocks=(cout+TB_STRIDED_BLOCK-1)/TB_STRIDED_BLOCK;
      float *x=buf((size_t)cin*h*w,&seed),*wt=buf((size_t)cout*kd,&seed),*b=buf(cout,&seed);
      float *pk=malloc(tb_strided_packed_size(cout,kd)*sizeof(float)); tb_strided_pack_weights(wt,cout,kd,pk);
      float *work=malloc(tb_strided_work_floats(cin,w,kk,kk,sy,p,ow,n)*sizeof(float)), *work7=malloc(tb_strided_work_floats(cin,w,kk,kk,sy,p,ow,7)*sizeof(float));
      float *y=malloc((size_t)cout*n*sizeof(float)), *y2=malloc((size_t)cout*n*sizeof(float));
      tb_conv_strided(k,x,cin,h,w,pk,t%2?NULL:b,cout,kk,kk,sy,sx,p,p,y,oh,ow,0,n,0,blocks,TB_ACT_SILU,work);
      // a split: positions from the middle of a tile to the end, the last block, into a third buffer
      float *y3=malloc((size_t)cout*n*sizeof(float)); memcpy(y3,y,(size_t)cout*n*sizeof(float));
      int q0=n>7? n-7 : 0, lastc=(blocks-1)*TB_STRIDED_BLOCK;
      for(int c=lastc;c<cout;c++) for(int q=q0;q<n;q++) y3[(size_t)c*n+q]=12345.0f;
      tb_conv_strided(k,x,cin,h,w,pk,t%2?NULL:b,cout,kk,kk,sy,sx,p,p,y3,oh,ow,q0,n,blocks-1,blocks,TB_ACT_SILU,work7);
      if(memcmp(y,y3,(size_t)cout*n*sizeof(float))){fprintf(stderr,"strided kernel: a split range gave other bits (shape %u)\n",t);return 1;}
      free(y3);
      // the reference: im2col columns [ci][ky][kx][position], zero outside the input, times the same weights
      float *col=malloc((size_t)kd*n*sizeof(float)), *pk6=malloc(tb_packed_size(cout,kd)*sizeof(float)), *tail=kd>256? malloc((size_t)kd*TB_TILE*sizeof(float)) : NULL;
      tb_pack_weights(wt,cout,kd,pk6);
      for(int r=0;r<kd;r++){int ci=r/(kk*kk),ky=(r/kk)%kk,kx=r%kk;
        for(int q=0;q<n;q++){int iy=(q/ow)*sy-p+ky, ix=(q%ow)*sx-p+kx; col[(size_t)r*n+q]=iy>=0&&iy<h&&ix>=0&&ix<w? x[((size_t)ci*h+iy)*w+ix] : 0.0f;}}
      tb_gemm_panel(k,col,kd,n,pk6,t%2?NULL:b,cout,y2,(size_t)n,0,n,0,(cout+5)/6,TB_ACT_SILU,0,tail);
      if(memcmp(y,y2,(size_t)cout*n*sizeof(float))){fprintf(stderr,"strided kernel: not the bits of im2col + tb_gemm_panel (shape %u)\n",t);return 1;}
      free(x);free(wt);free(b);free(pk);free(work);free(work7);free(y);free(y2);free(col);free(pk6);free(tail);}
    // Winograd F(2x2, 3x3): the bordered input of tb_wino_layout, the work buffer of
    // tb_wino_work_floats for the blocks of the call, the output planes; whole ranges and split
    // ones (a last chunk alone, a middle block range), maps one row high, odd and narrower than a
    // chunk of 8 tiles, and rows of exactly whole chunks (the AVX2 row loads and two-row stores)
    int sw[][4]={{32,5,1,63},{33,6,16,7},{40,1,5,33},{9,13,9,17},{8,7,6,37},{16,6,2,2},{7,12,1,1},{8,8,32,32},{5,19,15,16}};
    for(unsigned t=0;t<sizeof sw/sizeof sw[0];t++){int cin=sw[t][0],cout=sw[t][1],h=sw[t][2],w=sw[t][3],rows,width,chunks,blocks=(cout+5)/6;
      tb_wino_layout(h,w,&rows,&width,&chunks); size_t plane=(size_t)rows*width;
      float *xp=buf((size_t)cin*plane,&seed),*wt=buf((size_t)cout*cin*9,&seed),*b=buf(cout,&seed);
      float *u=malloc(tb_wino_weights_floats(cout,cin)*sizeof(float)); tb_wino_pack_weights(wt,cout,cin,u);
      float *y=malloc((size_t)cout*h*w*sizeof(float));
      float *work=malloc(tb_wino_work_floats(cin,blocks)*sizeof(float));
      tb_wino_conv(k,xp,cin,plane,width,u,b,cout,y,h,w,0,chunks,0,blocks,TB_ACT_SILU,work);
      free(work); work=malloc(tb_wino_work_floats(cin,1)*sizeof(float));
      tb_wino_conv(k,xp,cin,plane,width,u,NULL,cout,y,h,w,chunks-1,chunks,blocks-1,blocks,TB_ACT_RELU,work);
      if(blocks>2) tb_wino_conv(k,xp,cin,plane,width,u,b,cout,y,h,w,0,chunks,1,2,TB_ACT_NONE,work);
      free(xp);free(wt);free(b);free(u);free(y);free(work);}
    printf("kernels-asan: %s path clean\n", k == TB_KERNELS_AVX512 ? "avx512" : k == TB_KERNELS_AVX2 ? "avx2" : "portable");
  }
  // AVX-512 against AVX2: the same bits on the direct 3x3 and 1x1 loops (the same sums in the same
  // order, the same activation), on rows and position counts that take every AVX-512 tile (32, 16,
  // masked, the AVX2 tile of 8, two rows of 9 to 16) and each activation
  if(tb_kernels_available(TB_KERNELS_AVX512)){
    // (weights of over 64 KiB a call, 64 -> 48 3x3 and 400 -> 48 1x1, take the blocks-outer order; two-row
    // tiles, widths 9 to 16, each get SiLU)
    int sb[][5]={{3,1,5,10,3},{6,13,9,17,3},{17,6,20,9,3},{2,12,3,20,3},{5,8,5,40,3},{7,6,3,57,3},{4,13,7,15,3},{3,7,5,16,3},
                 {9,5,1,15,1},{16,13,1,17,1},{300,8,1,300,1},{5,7,1,48,1},{4,6,1,57,1},{3,13,1,64,1},{2,3,1,33,1},
                 {64,48,6,40,3},{400,48,1,40,1}};
    tb_act acts[4]={TB_ACT_NONE,TB_ACT_SIGMOID,TB_ACT_SILU,TB_ACT_RELU};   // shapes 2, 6 and 10 (two-row, two-row, 300 positions) SiLU
    for(unsigned t=0;t<sizeof sb/sizeof sb[0];t++){int cin=sb[t][0],cout=sb[t][1],h=sb[t][2],w=sb[t][3],kk=sb[t][4]; tb_act act=acts[t%4];
      int xw=kk==3? tb_padded_width(w,3) : w, xh=kk==3? h+2 : h, kd=cin*kk*kk, n=h*w;
      float *x=buf((size_t)cin*xh*xw,&seed),*wt=buf((size_t)cout*kd,&seed),*b=buf(cout,&seed);
      float *pk=malloc(tb_packed_size(cout,kd)*sizeof(float)); tb_pack_weights(wt,cout,kd,pk);
      float *y2=malloc((size_t)cout*n*sizeof(float)),*y5=malloc((size_t)cout*n*sizeof(float));
      float *tail=cin>256? malloc((size_t)cin*TB_TILE*sizeof(float)) : NULL;
      for(int pi=0;pi<2;pi++){ tb_kernels k=pi? TB_KERNELS_AVX512 : TB_KERNELS_AVX2; float *y=pi? y5 : y2;
        if(kk==3) tb_conv_direct(k,x,cin,xh,xw,pk,t%2?NULL:b,cout,3,3,y,h,w,0,h,0,(cout+5)/6,act);
        else tb_gemm_panel(k,x,cin,n,pk,t%2?NULL:b,cout,y,(size_t)n,0,n,0,(cout+5)/6,act,0,tail); }
      if(memcmp(y2,y5,(size_t)cout*n*sizeof(float))){fprintf(stderr,"avx512: not the bits of avx2 (shape %u)\n",t);return 1;}
      free(x);free(wt);free(b);free(pk);free(y2);free(y5);free(tail);}
    // the strided kernel: AVX-512's tiles (7 positions x two blocks, a last odd block alone) against AVX2's
    // (6 x one block), each activation, strided and stride-1 shapes; and a stride-1 3x3 with padding 1 on
    // maps 8 or fewer wide (ResNet-18's 7x7 stage, which the engine runs on the strided kernel under AVX-512)
    // against AVX2's direct 3x3 loop
    int ss[][8]={{5,40,14,14,3,2,2,1},{3,16,21,19,6,2,2,2},{9,33,7,7,3,1,1,1},{40,64,8,5,3,1,1,1},{300,20,5,7,3,2,2,1},{2,6,1,3,3,2,2,1},
                 {3,48,17,15,7,2,2,3},{33,17,3,8,3,1,1,1},
                 // AVX-512's phase path (stride 2, outputs 64 or more wide): rows of whole and partial tiles, 8-channel halves
                 // past cout, odd widths, the 6x6 stem
                 {5,40,9,130,3,2,2,1},{3,16,5,140,6,2,2,2},{16,32,6,320,3,2,2,1},{7,9,4,199,3,2,2,1},{2,25,3,129,5,2,2,2}};
    for(unsigned t=0;t<sizeof ss/sizeof ss[0];t++){int cin=ss[t][0],cout=ss[t][1],h=ss[t][2],w=ss[t][3],kk=ss[t][4],sy=ss[t][5],sx=ss[t][6],p=ss[t][7];
      int oh=(h+2*p-kk)/sy+1, ow=(w+2*p-kk)/sx+1, n=oh*ow, kd=cin*kk*kk, blocks=(cout+TB_STRIDED_BLOCK-1)/TB_STRIDED_BLOCK; tb_act act=acts[t%4];
      float *x=buf((size_t)cin*h*w,&seed),*wt=buf((size_t)cout*kd,&seed),*b=buf(cout,&seed);
      float *pk=malloc(tb_strided_packed_size(cout,kd)*sizeof(float)); tb_strided_pack_weights(wt,cout,kd,pk);
      float *work=malloc(tb_strided_work_floats(cin,w,kk,kk,sy,p,ow,n)*sizeof(float));
      float *y2=malloc((size_t)cout*n*sizeof(float)),*y5=malloc((size_t)cout*n*sizeof(float));
      tb_conv_strided(TB_KERNELS_AVX2,x,cin,h,w,pk,t%2?NULL:b,cout,kk,kk,sy,sx,p,p,y2,oh,ow,0,n,0,blocks,act,work);
      tb_conv_strided(TB_KERNELS_AVX512,x,cin,h,w,pk,t%2?NULL:b,cout,kk,kk,sy,sx,p,p,y5,oh,ow,0,n,0,blocks,act,work);
      if(memcmp(y2,y5,(size_t)cout*n*sizeof(float))){fprintf(stderr,"avx512: the strided kernel not the bits of avx2 (shape %u)\n",t);return 1;}
      if(kk==3&&sy==1&&sx==1&&p==1){   // the direct loop's padded input: the bordered copy of each channel
        int xw=tb_padded_width(w,3),xh=h+2; float *xp=malloc((size_t)cin*xh*xw*sizeof(float)),*pk6=malloc(tb_packed_size(cout,kd)*sizeof(float));
        for(int c=0;c<cin;c++) tb_border_copy(x+(size_t)c*h*w,h,w,1,1,xw,xp+(size_t)c*xh*xw,0,xh);
        tb_pack_weights(wt,cout,kd,pk6);
        tb_conv_direct(TB_KERNELS_AVX2,xp,cin,xh,xw,pk6,t%2?NULL:b,cout,3,3,y2,h,w,0,h,0,(cout+5)/6,act);
        if(memcmp(y2,y5,(size_t)cout*n*sizeof(float))){fprintf(stderr,"avx512: the strided kernel at stride 1 not the bits of the direct loop (shape %u)\n",t);return 1;}
        free(xp);free(pk6);}
      free(x);free(wt);free(b);free(pk);free(work);free(y2);free(y5);}
    printf("kernels-asan: avx512 gives avx2's bits on the direct loops and the strided kernel\n");
  }
  // max pooling: every kernel, stride and padding up to half the kernel, on planes of one row, one
  // column, odd sizes and rows of 8 or more (the vector loops, with a last partial step), the scratch
  // row exactly w + 2p + 16 floats; some inputs NaN, some zeros of either sign. Every path must give the
  // portable path's bits.
  int pp[][2]={{1,1},{1,7},{7,1},{6,5},{13,9},{9,8},{20,20},{5,17},{3,33},{11,24}};
  for(unsigned t=0;t<sizeof pp/sizeof pp[0];t++) for(int kk=1;kk<=5;kk++) for(int s=1;s<=3;s++) for(int p=0;p<=kk/2;p++){
    int h=pp[t][0],w=pp[t][1]; if(h+2*p<kk||w+2*p<kk) continue;
    int oh=(h+2*p-kk)/s+1, ow=(w+2*p-kk)/s+1;
    float *x=buf((size_t)h*w,&seed),*y0=malloc((size_t)oh*ow*sizeof(float)),*y=malloc((size_t)oh*ow*sizeof(float)),*row=malloc((size_t)(w+2*p+16)*sizeof(float));
    for(int i=0;i<h*w;i++){ if(i%13==5&&t%2) x[i]=NAN; else if(i%7==3) x[i]=i%2? 0.0f : -0.0f; }
    tb_maxpool_plane(TB_KERNELS_PORTABLE,x,h,w,y0,oh,ow,kk,s,p,row);
    for(int pi=1;pi<np;pi++){ tb_kernels k=(tb_kernels)paths[pi];
      tb_maxpool_plane(k,x,h,w,y,oh,ow,kk,s,p,row);
      if(memcmp(y,y0,(size_t)oh*ow*sizeof(float))){fprintf(stderr,"max pooling: path %d not the portable bits (%dx%d k%d s%d p%d)\n",k,h,w,kk,s,p);return 1;}}
    free(x);free(y0);free(y);free(row);}
  printf("kernels-asan: max pooling clean\n");
  // the zero-bordered copy: exactly rows x width floats written (in two bands of rows, each from
  // its first row's place), borders of 0 to 3, rows and widths past the input, a width narrower than
  // border plus input (the copy is cut); and each value where it belongs
  int bc[][6]={{1,1,1,1,3,3},{7,9,1,1,9,27},{5,3,2,3,11,10},{9,9,0,0,9,9},{2,17,3,2,10,19},{4,6,1,1,6,5}};
  for(unsigned t=0;t<sizeof bc/sizeof bc[0];t++){int h=bc[t][0],w=bc[t][1],by=bc[t][2],bx=bc[t][3],rows=bc[t][4],width=bc[t][5];
    float *x=buf((size_t)h*w,&seed),*o=malloc((size_t)rows*width*sizeof(float));
    tb_border_copy(x,h,w,by,bx,width,o,0,rows/2);
    tb_border_copy(x,h,w,by,bx,width,o+(size_t)(rows/2)*width,rows/2,rows);
    for(int i=0;i<rows;i++) for(int j=0;j<width;j++){int iy=i-by,ix=j-bx; float want=iy>=0&&iy<h&&ix>=0&&ix<w? x[iy*w+ix] : 0.0f;
      if(o[i*width+j]!=want){fprintf(stderr,"border copy: wrong value at row %d column %d (shape %u)\n",i,j,t);return 1;}}
    free(x);free(o);}
  printf("kernels-asan: bordered copy clean\n");
  // nearest upsampling: exactly h*f x w*f floats written, each the input it repeats
  int up[][3]={{1,1,2},{5,7,2},{3,33,2},{4,5,3},{2,9,1}};
  for(unsigned t=0;t<sizeof up/sizeof up[0];t++){int h=up[t][0],w=up[t][1],f=up[t][2];
    float *x=buf((size_t)h*w,&seed),*o=malloc((size_t)h*f*w*f*sizeof(float));
    tb_upsample_nearest_plane(x,h,w,f,o);
    for(int i=0;i<h*f;i++) for(int j=0;j<w*f;j++) if(o[(size_t)i*w*f+j]!=x[(i/f)*w+j/f]){fprintf(stderr,"upsample: wrong value at %d,%d (shape %u)\n",i,j,t);return 1;}
    free(x);free(o);}
  printf("kernels-asan: nearest upsampling clean\n");
  for(int pi=0;pi<np;pi++){ tb_kernels k=(tb_kernels)paths[pi];   // both paths from here on
  // im2col's stride-2 gather: exactly `avail` floats readable, every n it may be asked for
  for(int avail=1;avail<=70;avail++) for(int n=1;2*n-1<=avail;n++){
    float *src=buf((size_t)avail,&seed),*dst=malloc((size_t)n*sizeof(float));
    tb_gather_stride2(k,src,n,avail,dst);
    for(int t=0;t<n;t++) if(dst[t]!=src[2*t]){fprintf(stderr,"gather: wrong value at %d of %d\n",t,n);return 1;}
    free(src);free(dst);}
  printf("kernels-asan: stride-2 gather clean (%s)\n", k == TB_KERNELS_AVX512 ? "avx512" : k == TB_KERNELS_AVX2 ? "avx2" : "portable");
  }
  // the weight files' NaN / infinity search: exactly n values readable, unaligned, none or one at each place
  for(size_t n=0;n<=200;n++) for(long at=-1;at<(long)n;at++){
    unsigned char *raw=malloc(4*n+1), *p=raw+1;   // one byte on: unaligned
    for(size_t i=0;i<n;i++){ uint32_t w=(i==(size_t)at)?0x7FC00000u:0x3F800000u; memcpy(p+4*i,&w,4); }
    long r=tb_first_nonfinite32(p,n,0x7F800000u);
    unsigned char *raw16=malloc(2*n+1), *q=raw16+1;
    for(size_t i=0;i<n;i++){ uint16_t h=(i==(size_t)at)?0x7C00:0x3C00; memcpy(q+2*i,&h,2); }
    long r16=tb_first_nonfinite16(q,n,0x7C00);
    if(r!=at||r16!=at){fprintf(stderr,"nonfinite: n %zu at %ld: got %ld, %ld\n",n,at,r,r16);return 1;}
    free(raw);free(raw16);}
  printf("kernels-asan: non-finite search clean\n");
  return 0;
}
